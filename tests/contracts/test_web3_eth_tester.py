"""The bytecode from compile_suite(), deployed through web3.py on eth-tester: a full elevation lifecycle."""

import subprocess
import sys
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from pamchain.contracts import compile_suite, source_dir
from pamkit import A_ADD_MEMBER, A_REMOVE_MEMBER, APPLIED, DOMAIN, END_REVOKED, GROUP, HOUR, MAX_PENDING, h
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

EIP170_LIMIT = 24_576


@pytest.fixture(scope="module")
def chain() -> tuple[Web3, Any]:
    """A fresh eth-tester chain with PamChain deployed from the shipped artifacts and bootstrapped."""
    artifacts = compile_suite()["PamChain"]
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    accounts = w3.eth.accounts
    deployer, council, devices, oracle = accounts[0], accounts[1:4], accounts[4:7], accounts[7]
    factory = w3.eth.contract(abi=artifacts["abi"], bytecode=artifacts["bytecode"])
    tx = factory.constructor(list(council), 2, 86_400, 86_400).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    pam = w3.eth.contract(address=receipt["contractAddress"], abi=artifacts["abi"])
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
    send(pam.functions.end_bootstrap(), deployer)
    return w3, {
        "pam": pam,
        "send": send,
        "devices": devices,
        "oracle": oracle,
        "ids": ids,
        "council": council,
    }


def test_deployed_code__is_compile_suite_runtime(chain):
    w3, ctx = chain
    code = w3.eth.get_code(ctx["pam"].address)
    assert code.to_0x_hex() == compile_suite()["PamChain"]["bytecode_runtime"]
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

    # Governance after bootstrap: a 2-of-3 proposal, executed by the second approval.
    council = ctx["council"]
    data = pam.encode_abi("set_threshold", args=[3])
    receipt = send(pam.functions.propose(data), council[0])
    proposal_id = pam.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0].args.proposal_id
    receipt = send(pam.functions.approve_proposal(proposal_id), council[1])
    assert (
        pam.events.ProposalExecuted().process_receipt(receipt, errors=DISCARD)[0].args.proposal_id
        == proposal_id
    )
    assert pam.functions.council_threshold().call() == 3


def test_compile_suite__artifacts_and_sources(pam_deployer):
    artifacts = compile_suite()["PamChain"]
    assert set(artifacts) == {"abi", "bytecode", "bytecode_runtime"}
    assert compile_suite() is compile_suite()  # cached
    assert (source_dir() / "PamChain.vy").is_file()
    assert {p.name for p in (source_dir() / "modules").glob("*.vy")} >= {
        "council.vy",
        "requests.vy",
        "grants.vy",
    }
    # titanoboa compiles the same sources to the same runtime code.
    assert "0x" + pam_deployer.compiler_data.bytecode_runtime.hex() == artifacts["bytecode_runtime"]


def test_import__needs_no_titanoboa():
    code = "import sys, pamchain.contracts; assert 'boa' not in sys.modules and 'vyper' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
