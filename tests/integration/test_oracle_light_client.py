"""The oracle does not believe its RPC endpoint: a proxy in front of a real node process forges approvals.

Through an honest proxy the oracle verifies every header (Clique seal, link to the deployment block's hash)
and the receipts it takes events from, and acts. Through a lying proxy it refuses: nothing is journalled,
AD is unchanged, and its status says the endpoint lies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from pamchain.sdk.chain.chain_check import encode_receipt, header_hash, trie_root
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.events import RequestApproved
from pamchain.sdk.chain.model import UNLOCK_TARGET, Action, Kind
from pamchain.sdk.directory import AccountRef, AuthenticationFailed, Directory, StaticIdMap
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.light_client import NO_VERIFICATION, Anchor, Verification

from support.world import ADMINS, DOMAIN, directory_id, standard_plan

from .ad import AdObjects
from .rpc_proxy import NodeProcess, RpcProxy, node_process, rpc_proxy

pytestmark = pytest.mark.integration

DC1 = b"DC1".ljust(32, b"\x00")
PASSWORD = "Tr1cky-Blue-Harbour!"
FORGED_REQUEST = 4242
APPROVED_TOPIC = keccak(text="RequestApproved(uint256,bytes32,bytes32,uint8,bytes32,bytes32)")


@dataclass
class Chain:
    node: NodeProcess
    client: PamClient
    deployment: Deployment


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """One node process (epoch 8, so the chain crosses Clique checkpoints) with the suite deployed."""
    with node_process(tmp_path_factory.mktemp("node"), epoch=8) as node:
        client, deployment = deploy_plan(
            connect(node.url), node.accounts["deployer"], standard_plan(node.accounts)
        )
        yield Chain(node, client, deployment)


def forged_log(address: str, block: dict[str, Any], log_index: int) -> dict[str, Any]:
    """An UNLOCK approval for bob that nobody requested, shaped like a real log of ``block``."""
    data = encode(["uint8", "bytes32", "bytes32"], [int(Kind.UNLOCK), UNLOCK_TARGET, b"\x00" * 32])
    return {
        "address": address.lower(),
        "topics": [
            "0x" + APPROVED_TOPIC.hex(),
            "0x" + FORGED_REQUEST.to_bytes(32, "big").hex(),
            "0x" + directory_id("bob").hex(),
            "0x" + DOMAIN.hex(),
        ],
        "data": "0x" + data.hex(),
        "blockNumber": block["number"],
        "blockHash": block["hash"],
        "transactionHash": block["transactions"][0] if block.get("transactions") else "0x" + "00" * 32,
        "transactionIndex": "0x0",
        "logIndex": hex(log_index),
        "removed": False,
    }


class Forger:
    """What a lying endpoint serves about block ``target``: a forged approval in its logs and receipts,
    and with ``header=True`` a header rewritten to commit to the forged receipts (its seal no longer fits)."""

    def __init__(self, chain: Chain, target: int, *, receipts: bool, header: bool) -> None:
        self.chain = chain
        self.target = target
        self.receipts = receipts
        self.header = header
        self.upstream = RpcProxy(chain.node.url)
        self.block = self.upstream.forward(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": [hex(target), False]}
        )["result"]
        real = self.upstream.forward(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockReceipts", "params": [hex(target)]}
        )["result"]
        self.forged_receipts = [dict(r) for r in real]
        self.forged_receipts[0] = dict(real[0], logs=[*real[0]["logs"], self._log(len(real[0]["logs"]))])

    def _log(self, index: int) -> dict[str, Any]:
        return forged_log(self.chain.client.address, self.block, index)

    def __call__(self, method: str, params: list[Any], result: Any) -> Any:
        if method == "eth_getLogs" and result:
            return [*result, self._log(len(result))]
        if not self.receipts or result is None:
            return result
        if method == "eth_getBlockReceipts" and params[0] in (hex(self.target), self.block["hash"]):
            return self.forged_receipts
        if method == "eth_getTransactionReceipt" and result.get("blockNumber") == hex(self.target):
            return self.forged_receipts[int(result["transactionIndex"], 16)]
        if (
            self.header
            and method in ("eth_getBlockByNumber", "eth_getBlockByHash")
            and isinstance(result, dict)
            and result.get("number") == hex(self.target)
        ):
            root = trie_root(encode_receipt(r) for r in self.forged_receipts)
            forged = dict(result, receiptsRoot="0x" + root.hex())
            forged["hash"] = "0x" + header_hash(forged).hex()
            return forged
        return result


def make_oracle(
    chain: Chain,
    url: str,
    directory: Directory,
    journal: Path,
    *,
    verify: bool = True,
    id_map: StaticIdMap | None = None,
) -> OracleDaemon:
    if id_map is None:
        assert isinstance(directory, MemoryDirectory)
        for name in ("alice", "bob", "carol"):
            if not any(a.sam_account_name == name for a in directory.accounts()):
                directory.create_user(name, PASSWORD)
        id_map = StaticIdMap.from_hex(
            {"0x" + directory_id(n).hex(): n for n in ("alice", "bob", "carol")},
            {"0x" + ADMINS.hex(): "CN=Domain Admins,CN=Users,DC=pamchain,DC=test"},
        )
    oracle = chain.node.accounts["oracle"]
    assert chain.deployment.block_hash is not None  # recorded at deployment: the oracle's anchor
    anchor = Anchor.parse(chain.deployment.block, chain.deployment.block_hash)
    return assemble(
        PamClient.from_deployment(connect(url), chain.deployment, oracle),
        oracle,
        directory,
        journal,
        domain=DOMAIN,
        dc_id=DC1,
        id_map=id_map,
        start_block=chain.deployment.block,
        retry=Retry(max_attempts=2, base=0.0, cap=0.0),
        reconcile_interval=3600,
        verification=Verification("clique", anchor, epoch=8) if verify else NO_VERIFICATION,
    )


def lock_out(directory: MemoryDirectory, name: str) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(AccountRef(name), "wrong password")
    assert directory.is_locked(AccountRef(name))


def tick_until(daemon: OracleDaemon, condition: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout} s; oracle status {daemon.status()}")
        daemon.run_once()


def journalled(daemon: OracleDaemon) -> int:
    return sum(daemon.journal.count(state) for state in ("pending", "applied", "reported"))


def test_honest_endpoint__verified_then_applied_and_resumed_after_restart(
    chain: Chain, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    with rpc_proxy(chain.node.url) as proxy:
        daemon = make_oracle(chain, proxy.url, directory, tmp_path / "journal.sqlite3")
        lock_out(directory, "alice")
        rid = chain.client.as_account(chain.node.accounts["alice"]).request_unlock()
        tick_until(daemon, lambda: chain.client.receipt(rid, Action.UNLOCK) is not None)
        assert not directory.is_locked(AccountRef("alice"))
        status = daemon.status()
        assert status["chain_verification"] == "clique" and status["endpoint_lies"] is None
        assert status["healthy"] and status["verified_final"] >= status["checkpoint"] > chain.deployment.block
        assert status["headers_verified"] > 0
        daemon.journal.close()

        # A restart resumes from the verified block it stored, not from the anchor.
        proxy.seen.clear()
        again = make_oracle(chain, proxy.url, directory, tmp_path / "journal.sqlite3")
        again.run_once()
        asked = [
            int(p[0], 16) for m, p in proxy.seen if m == "eth_getBlockByNumber" and p[0].startswith("0x")
        ]
        assert asked and min(asked) >= status["checkpoint"]
        assert again.status()["healthy"] and journalled(again) == 1
        again.journal.close()


@pytest.mark.parametrize(
    ("receipts", "header", "reason"),
    [
        (True, False, "receipts do not match the receipts root"),
        (True, True, "unauthorized signer"),
    ],
    ids=["forged-receipts", "forged-header"],
)
def test_lying_endpoint__forged_approval__refused_nothing_journalled(
    chain: Chain, tmp_path: Path, receipts: bool, header: bool, reason: str
) -> None:
    directory = MemoryDirectory()
    with rpc_proxy(chain.node.url) as proxy:
        daemon = make_oracle(chain, proxy.url, directory, tmp_path / "journal.sqlite3")
        daemon.run_once()  # anchored and caught up (earlier tests' requests) before the lie
        before = journalled(daemon)
        lock_out(directory, "alice")
        lock_out(directory, "bob")
        sent = chain.client.as_account(chain.node.accounts["alice"]).transact("request_unlock")
        rid = int(sent.first(RequestApproved).request_id)
        proxy.tamper = Forger(chain, sent.block_number, receipts=receipts, header=header)
        # until refused, or (the old, trusting oracle) until bob is unlocked
        tick_until(
            daemon,
            lambda: daemon.status().get("endpoint_lies") or not directory.is_locked(AccountRef("bob")),
        )
        for _ in range(3):
            daemon.run_once()  # the refusal sticks
        status = daemon.status()
        assert directory.is_locked(AccountRef("bob"))  # the forged approval changed nothing in AD
        assert reason in status["endpoint_lies"] and not status["healthy"] and status["endpoint_refused"]
        assert directory.is_locked(AccountRef("alice"))  # nothing from that endpoint is acted upon
        assert daemon.journal.get(FORGED_REQUEST, Action.UNLOCK) is None
        assert daemon.journal.get(rid, Action.UNLOCK) is None and journalled(daemon) == before
        daemon.journal.close()


def test_lying_endpoint__forged_log_only_in_get_logs__never_seen(chain: Chain, tmp_path: Path) -> None:
    """A log that is not in the block's receipts does not exist for the oracle (it never reads eth_getLogs)."""
    directory = MemoryDirectory()
    with rpc_proxy(chain.node.url) as proxy:
        daemon = make_oracle(chain, proxy.url, directory, tmp_path / "journal.sqlite3")
        daemon.run_once()
        before = journalled(daemon)
        lock_out(directory, "alice")
        lock_out(directory, "bob")
        sent = chain.client.as_account(chain.node.accounts["alice"]).transact("request_unlock")
        rid = int(sent.first(RequestApproved).request_id)
        proxy.tamper = Forger(chain, sent.block_number, receipts=False, header=False)
        tick_until(daemon, lambda: chain.client.receipt(rid, Action.UNLOCK) is not None)
        assert not directory.is_locked(AccountRef("alice"))
        assert directory.is_locked(AccountRef("bob"))
        assert daemon.journal.get(FORGED_REQUEST, Action.UNLOCK) is None
        assert journalled(daemon) == before + 1 and daemon.status()["endpoint_lies"] is None
        daemon.journal.close()


def test_trusting_oracle__forged_approval__acted_upon(chain: Chain, tmp_path: Path) -> None:
    """The threat is real: with ``verify = "none"`` (the behaviour before the light client) the same forged
    log unlocks bob, whom nobody asked to unlock."""
    directory = MemoryDirectory()
    with rpc_proxy(chain.node.url) as proxy:
        daemon = make_oracle(chain, proxy.url, directory, tmp_path / "journal.sqlite3", verify=False)
        daemon.run_once()
        lock_out(directory, "bob")
        sent = chain.client.as_account(chain.node.accounts["alice"]).transact("request_unlock")
        proxy.tamper = Forger(chain, sent.block_number, receipts=True, header=False)
        tick_until(daemon, lambda: not directory.is_locked(AccountRef("bob")))
        assert daemon.journal.get(FORGED_REQUEST, Action.UNLOCK) is not None
        assert daemon.status()["chain_verification"] == "none"
        daemon.journal.close()


def test_lying_endpoint__real_ad__forged_unlock_leaves_the_account_locked(
    chain: Chain, tmp_path: Path, ad: AdObjects, ldap_directory: LdapDirectory, ad_password: str
) -> None:
    """The same forgery against a real Samba AD DC over LDAPS: bob's account stays locked."""
    users = {name: ad.user(ad_password) for name in ("alice", "bob", "carol")}
    id_map = StaticIdMap.from_hex(
        {"0x" + directory_id(n).hex(): users[n].sam_account_name for n in users},
        {"0x" + ADMINS.hex(): ad.group().dn},
    )
    bob = users["bob"].ref
    with rpc_proxy(chain.node.url) as proxy:
        daemon = make_oracle(chain, proxy.url, ldap_directory, tmp_path / "journal.sqlite3", id_map=id_map)
        daemon.run_once()
        for _ in range(3):
            with pytest.raises(AuthenticationFailed):
                ldap_directory.authenticate(bob, "not-the-password")
        sent = chain.client.as_account(chain.node.accounts["alice"]).transact("request_unlock")
        proxy.tamper = Forger(chain, sent.block_number, receipts=True, header=True)
        tick_until(daemon, lambda: daemon.status().get("endpoint_lies") or not ldap_directory.is_locked(bob))
        for _ in range(3):
            daemon.run_once()
        with pytest.raises(AuthenticationFailed) as info:
            ldap_directory.authenticate(bob, ad_password)
        assert info.value.reason == AuthenticationFailed.ACCOUNT_LOCKED
        assert "unauthorized signer" in daemon.status()["endpoint_lies"]
        assert daemon.journal.get(FORGED_REQUEST, Action.UNLOCK) is None
        daemon.journal.close()
