"""The bytecode from compile_suite(), deployed through web3.py on eth-tester: a full elevation lifecycle.

Council, then PamChain and PamNetwork bound to it, as `deploy_plan` deploys them.
"""

import subprocess
import sys
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from pamchain.contracts import DEPLOYABLES, compile_suite, source_dir
from pamkit import (
    A_ADD_MEMBER,
    A_REMOVE_MEMBER,
    APPLIED,
    DOMAIN,
    END_REVOKED,
    GROUP,
    HOUR,
    MAX_PENDING,
    NODE,
    h,
)
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

EIP170_LIMIT = 24_576


@pytest.fixture(scope="module")
def chain() -> tuple[Web3, Any]:
    """A fresh eth-tester chain with the suite deployed from the shipped artifacts and bootstrapped."""
    suite = compile_suite()
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    accounts = w3.eth.accounts
    deployer, council, devices, oracle = accounts[0], accounts[1:4], accounts[4:7], accounts[7]

    def deploy(name: str, *args: Any) -> Any:
        factory = w3.eth.contract(abi=suite[name]["abi"], bytecode=suite[name]["bytecode"])
        receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": deployer}))
        return w3.eth.contract(address=receipt["contractAddress"], abi=suite[name]["abi"])

    governor = deploy("Council", list(council), 2, 86_400, 86_400)
    pam = deploy("PamChain", governor.address)
    network = deploy("PamNetwork", governor.address)
    reviews = deploy("PamReviews", governor.address, pam.address)
    ids = [h(f"principal:{n}") for n in ("alice", "bob", "carol")]

    def send(fn: Any, sender: str) -> Any:
        return w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))

    send(pam.functions.set_oracle(DOMAIN, oracle, h("x25519")), deployer)
    for device, directory_id in zip(devices, ids, strict=True):
        send(pam.functions.enrol(device, directory_id, DOMAIN), deployer)
    send(
        pam.functions.set_policy(
            GROUP, DOMAIN, 2, 8 * HOUR, MAX_PENDING, False, True, 0, 0, ids[1:], ids[:1], 0, 0, 0
        ),
        deployer,
    )
    send(network.functions.set_node(NODE, True), deployer)
    send(governor.functions.end_bootstrap(), deployer)
    return w3, {
        "governor": governor,
        "pam": pam,
        "network": network,
        "reviews": reviews,
        "send": send,
        "devices": devices,
        "oracle": oracle,
        "ids": ids,
        "council": council,
        "deployer": deployer,
    }


@pytest.mark.parametrize(
    ("name", "key"),
    [("Council", "governor"), ("PamChain", "pam"), ("PamNetwork", "network"), ("PamReviews", "reviews")],
)
def test_deployed_code__is_compile_suite_runtime(chain, name, key):
    w3, ctx = chain
    code = w3.eth.get_code(ctx[key].address)
    assert code.to_0x_hex() == compile_suite()[name]["bytecode_runtime"]
    assert len(code) <= EIP170_LIMIT


def test_lifecycle__request_approve_active_revoke(chain):
    w3, ctx = chain
    pam, send = ctx["pam"], ctx["send"]
    alice, bob, carol = ctx["devices"]
    alice_id = ctx["ids"][0]

    receipt = send(pam.functions.request_elevation(GROUP, HOUR, h("why"), h("CHG-9"), False), alice)
    (created,) = pam.events.RequestCreated().process_receipt(receipt, errors=DISCARD)
    request_id = created.args.request_id
    assert (created.args.subject, created.args.target, created.args.approvals_required) == (
        alice_id,
        GROUP,
        2,
    )

    with pytest.raises((ContractLogicError, TransactionFailed), match="requests: self-approval"):
        pam.functions.approve(request_id).transact({"from": alice})

    receipt = send(pam.functions.approve(request_id), bob)
    assert pam.events.ApprovalCast().process_receipt(receipt, errors=DISCARD)[0].args.approvals == 1
    receipt = send(pam.functions.approve(request_id), carol)
    (approved,) = pam.events.RequestApproved().process_receipt(receipt, errors=DISCARD)
    (activated,) = pam.events.GrantActivated().process_receipt(receipt, errors=DISCARD)
    assert approved.args.request_id == activated.args.request_id == request_id
    block = w3.eth.get_block(receipt["blockNumber"])
    assert (activated.args.start, activated.args.expiry) == (block["timestamp"], block["timestamp"] + HOUR)
    assert pam.functions.is_active(request_id).call()
    assert pam.functions.active_grants(alice_id).call() == [request_id]

    receipt = send(
        pam.functions.post_receipt(request_id, A_ADD_MEMBER, APPLIED, h("d"), h("dc1")), ctx["oracle"]
    )
    assert pam.events.ReceiptPosted().process_receipt(receipt, errors=DISCARD)[0].args.action == A_ADD_MEMBER

    receipt = send(pam.functions.revoke(request_id), alice)
    (ended,) = pam.events.GrantEnded().process_receipt(receipt, errors=DISCARD)
    assert (ended.args.request_id, ended.args.reason, ended.args.by, ended.args.domain) == (
        request_id,
        END_REVOKED,
        alice,
        DOMAIN,
    )
    assert not pam.functions.is_active(request_id).call()
    send(pam.functions.post_receipt(request_id, A_REMOVE_MEMBER, APPLIED, h("d"), h("dc1")), ctx["oracle"])
    assert pam.functions.receipt(request_id, A_REMOVE_MEMBER).call()[0] == APPLIED


def _govern(ctx: Any, target: Any, data: bytes) -> Any:
    """A 2-of-3 proposal on the council calling `target`, executed by the second approval; its receipt."""
    governor, send, council = ctx["governor"], ctx["send"], ctx["council"]
    receipt = send(governor.functions.propose(target.address, data), council[0])
    (created,) = governor.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
    assert created.args.target == target.address
    receipt = send(governor.functions.approve_proposal(created.args.proposal_id), council[1])
    (executed,) = governor.events.ProposalExecuted().process_receipt(receipt, errors=DISCARD)
    assert executed.args.proposal_id == created.args.proposal_id
    return receipt


def test_governance__proposals_target_each_contract(chain):
    """After bootstrap: proposals on the council govern PamNetwork, PamChain and the council itself."""
    _, ctx = chain
    governor, pam, network = ctx["governor"], ctx["pam"], ctx["network"]
    site_b = h("node:site-b")
    receipt = _govern(ctx, network, network.encode_abi("set_node", args=[site_b, True]))
    (node_set,) = network.events.NodeSet().process_receipt(receipt, errors=DISCARD)
    assert (node_set.args.node_id, node_set.args.allowed) == (site_b, True)
    assert network.functions.node_count().call() == 2

    second = ctx["devices"][2]  # any account: an oracle is an address
    receipt = _govern(ctx, pam, pam.encode_abi("set_oracle", args=[DOMAIN, second, h("x25519")]))
    (oracle_set,) = pam.events.OracleSet().process_receipt(receipt, errors=DISCARD)
    assert (oracle_set.args.oracle, oracle_set.args.active) == (second, True)
    assert pam.functions.is_domain_oracle(DOMAIN, second).call()

    _govern(ctx, governor, governor.encode_abi("set_threshold", args=[3]))
    assert governor.functions.council_threshold().call() == 3

    # A council member alone, or the past bootstrapper, cannot.
    for sender in (ctx["council"][0], ctx["deployer"]):
        with pytest.raises((ContractLogicError, TransactionFailed), match="council: not governance"):
            network.functions.set_node(h("node:site-c"), True).transact({"from": sender})


def test_compile_suite__artifacts_and_sources(
    council_deployer, pam_deployer, network_deployer, reviews_deployer
):
    suite = compile_suite()
    assert set(suite) == set(DEPLOYABLES) == {"Council", "PamChain", "PamNetwork", "PamFactors", "PamReviews"}
    assert all(set(artifacts) == {"abi", "bytecode", "bytecode_runtime"} for artifacts in suite.values())
    assert compile_suite() is compile_suite()  # cached
    assert all((source_dir() / f"{name}.vy").is_file() for name in DEPLOYABLES)
    assert {p.name for p in (source_dir() / "modules").glob("*.vy")} >= {
        "council.vy",
        "governance.vy",
        "nodes.vy",
        "requests.vy",
        "grants.vy",
    }
    # titanoboa compiles the same sources to the same runtime code.
    for name, deployer in (
        ("Council", council_deployer),
        ("PamChain", pam_deployer),
        ("PamNetwork", network_deployer),
        ("PamReviews", reviews_deployer),
    ):
        assert "0x" + deployer.compiler_data.bytecode_runtime.hex() == suite[name]["bytecode_runtime"], name


def test_import__needs_no_titanoboa():
    code = "import sys, pamchain.contracts; assert 'boa' not in sys.modules and 'vyper' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
