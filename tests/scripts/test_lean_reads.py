"""The lean read path on a real node: the same answers as the typed client, and no web3 or vyper in the process of
a read-only command."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pamchain.sdk.chain.client import Deployment, PamClient
from pamchain.sdk.chain.events import GenericEvent
from pamchain.sdk.chain.jsonrpc import ChainRpc
from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET, Action, Status, ticket_ref
from pamchain.sdk.chain.reader import ChainReader
from pamchain.sdk.errors import ConfigError, NodeUnavailable, SdkError

from .conftest import GROUP_ID, PEOPLE, Live

# What a read-only command must never load: the typed client's stack and the compiler.
HEAVY = ("web3", "vyper", "eth_abi", "eth_utils", "eth_account", "boa", "requests")


@pytest.fixture(scope="module")
def history(live: Live) -> Iterator[dict[str, int]]:
    """An elevation approved into a grant (the oracle posts its receipt) and an open council proposal; the grant
    is revoked and the proposal withdrawn afterwards: tests later in the session find neither."""
    client = live.client()
    alice = client.as_account(live.accounts["alice"])
    request_id = alice.request_elevation(GROUP_ID, 600, "lean reads", ticket_ref("CHG-77"))
    for name in ("bob", "carol"):
        client.as_account(live.accounts[name]).approve(request_id)
    client.wait_for_receipt(request_id, Action.ADD_MEMBER, timeout=60)
    proposal = client.as_account(live.accounts["c1"]).propose(
        "set_leaver_rule", b"corp.example".ljust(32, b"\x00"), True
    )
    created = next(e for e in proposal.events if isinstance(e, GenericEvent) and e.event == "ProposalCreated")
    proposal_id = int(created.args["proposal_id"])
    yield {"request_id": request_id, "proposal_id": proposal_id}
    client.as_account(live.accounts["c1"]).transact("cancel_proposal", proposal_id)
    client.as_account(live.accounts["bob"]).revoke(request_id)
    client.wait_for_receipt(request_id, Action.REMOVE_MEMBER, timeout=60)


@pytest.fixture(scope="module")
def pair(live: Live) -> tuple[ChainReader, PamClient]:
    deployment = Deployment.load(live.deployment_file)
    return ChainReader.from_deployment(ChainRpc(live.url), deployment), live.client()


def test_reader__answers_as_the_typed_client(
    pair: tuple[ChainReader, PamClient], history: dict[str, int], live: Live
) -> None:
    lean, typed = pair
    assert lean.request_count() == typed.request_count() >= history["request_id"]
    for request_id in range(1, typed.request_count() + 1):
        assert lean.request(request_id) == typed.request(request_id)
        assert lean.status(request_id) is typed.status(request_id)
        assert lean.receipt(request_id, Action.ADD_MEMBER) == typed.receipt(request_id, Action.ADD_MEMBER)
    assert lean.status(history["request_id"]) is Status.ACTIVE
    for name in PEOPLE:
        directory_id = live.ids[name]
        assert lean.principal(directory_id) == typed.principal(directory_id)
        assert lean.active_grants(directory_id) == typed.active_grants(directory_id)
        assert lean.principal_of(live.accounts[name].address) == typed.principal_of(
            live.accounts[name].address
        )
    for target in (GROUP_ID, UNLOCK_TARGET, PASSWORD_RESET_TARGET):
        assert lean.policy(target) == typed.policy(target)
        assert lean.requirements(target) == typed.requirements(target)
    assert lean.council() == typed.council()
    assert lean.bootstrapping() is typed.bootstrapping() is False
    assert lean.proposal_count() == typed.proposal_count() >= history["proposal_id"]
    proposal = lean.proposal(history["proposal_id"])
    assert proposal == typed.proposal(history["proposal_id"])
    assert lean.describe_call(proposal.target, proposal.data) == (
        "set_leaver_rule",
        {"domain": b"corp.example".ljust(32, b"\x00"), "auto_suspend": True},
    )
    assert lean.leaver_auto_suspend(b"corp.example".ljust(32, b"\x00")) is False  # proposed, not executed
    assert lean.campaign_count() == typed.campaign_count()
    assert lean.addresses == typed.addresses
    head = typed.block_number()
    assert lean.events(0, head) == typed.events(0, head)
    assert any(type(e).__name__ == "GrantActivated" for e in lean.events(0, head))
    assert lean.events(0, head, names=["ReceiptPosted"]) == typed.events(0, head, names=["ReceiptPosted"])
    assert lean.block_timestamp(head) == typed.block_timestamp(head)


def test_reader__unknown_ids_are_domain_errors(pair: tuple[ChainReader, PamClient]) -> None:
    lean, _ = pair
    with pytest.raises(SdkError, match="no request 999999"):
        lean.request(999_999)
    with pytest.raises(SdkError, match="no proposal 999999"):
        lean.proposal(999_999)
    with pytest.raises(SdkError, match="no policy"):
        lean.policy(b"\x07" * 32)
    with pytest.raises(SdkError, match="not an address"):
        lean.principal_of("0xnot-an-address")


def test_reader__refuses_another_chain_or_abi(live: Live) -> None:
    deployment = Deployment.load(live.deployment_file)
    rpc = ChainRpc(live.url)
    with pytest.raises(ConfigError, match="chain 1337, the deployment is on chain 5"):
        ChainReader.from_deployment(rpc, dataclasses.replace(deployment, chain_id=5))
    with pytest.raises(ConfigError, match="speaks ABI 0000"):
        ChainReader.from_deployment(rpc, dataclasses.replace(deployment, abi_version="0000"))


def test_reader__no_node_is_node_unavailable(live: Live) -> None:
    from support.rpc import free_port

    rpc = ChainRpc(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(NodeUnavailable):
        ChainReader.from_deployment(rpc, Deployment.load(live.deployment_file))


def _run(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    """``pamchain ARGS`` as its own process under ``-X importtime`` (every imported module on stderr)."""
    env = {**os.environ, **live.env}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pamchain.scripts.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


READ_ONLY = [
    ["grants"],
    ["grants", "--active"],
    ["receipts"],
    ["request", "list"],
    ["request", "show", "1"],
    ["policy", "show", "unlock"],
    ["policy", "leavers", "--domain", "corp.example"],
    ["principal", "show", "ALICE"],
    ["council", "list"],
    ["review", "list"],
    ["audit", "export", "--format", "json"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_command__never_imports_web3_or_vyper(
    live: Live, history: dict[str, int], args: list[str]
) -> None:
    args = ["0x" + live.ids["alice"].hex() if a == "ALICE" else a for a in args]
    done = _run(live, *args, "--json") if args[0] != "audit" else _run(live, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    json.loads(done.stdout)  # it answered, as JSON
    modules = _imported(done.stderr)
    assert "pamchain.sdk.chain.reader" in modules  # the check sees the process's imports at all
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_read_only_command__answers_as_the_typed_path(live: Live, history: dict[str, int]) -> None:
    """``request show`` through the lean reader prints what the typed client reads."""
    done = _run(live, "request", "show", str(history["request_id"]), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout)
    found = live.client().request(history["request_id"])
    assert shown["status"] == found.status.name == "ACTIVE"
    assert shown["requester"] == found.requester
    assert shown["expiry"] == found.expiry
    assert shown["ticket"] == "CHG-77"


def test_read_only_command__no_node_is_one_line(live: Live, tmp_path: Path) -> None:
    from support.rpc import free_port

    env = {**os.environ, **live.env, "PAMCHAIN_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    done = subprocess.run(
        [sys.executable, "-m", "pamchain.scripts.cli", "grants"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: no node answers at {env['PAMCHAIN_RPC_URL']} (set --rpc-url or PAMCHAIN_RPC_URL)"
    ]
