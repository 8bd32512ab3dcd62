"""A loopback validator network for tests and benchmarks: each node its own ``python -m pamchain.node run``
process with its own data dir, keystore and node key, peering over p2p on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.devnet.processes import stop_process
from pamchain.node import make_genesis
from pamchain.node.p2p.identity import Enode, NodeKey
from pamchain.sdk.keys import write_keystore

from .node_process import NODE, NodeFiles, start_node
from .rpc import free_port

CHAIN_ID = 4343
PASSWORD = "network test\n"


def account(label: str) -> LocalAccount:
    return Account.from_key(keccak(b"pamchain-network-" + label.encode()))


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def call(self, method: str, *params: Any, timeout: float = 10) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        reply = self.session.post(self.url, json=body, timeout=timeout).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def number(self, tag: str = "latest") -> int:
        return int(self.call("eth_getBlockByNumber", tag, False)["number"], 16)

    def block(self, ref: str | int) -> dict[str, Any]:
        return self.call("eth_getBlockByNumber", hex(ref) if isinstance(ref, int) else ref, False)


@dataclass
class Member:
    """One node of the cluster (its process may be stopped and started again)."""

    index: int
    datadir: Path
    signer: LocalAccount
    node_key: NodeKey
    rpc_port: int
    p2p_port: int
    keystore: Path
    node_key_file: Path
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def enode(self) -> str:
        return str(Enode(self.node_key.node_id, "127.0.0.1", self.p2p_port))

    @property
    def rpc(self) -> Rpc:
        return Rpc(f"http://127.0.0.1:{self.rpc_port}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    root: Path
    members: list[Member]
    genesis: dict[str, Any]
    user: LocalAccount
    period: int = 1
    bootnodes: list[str] = field(default_factory=list)

    def start(self, member: Member, wait: bool = True) -> None:
        assert member.log is not None
        files = NodeFiles(member.datadir, member.keystore, self.root / "password")
        args = [
            "--p2p-port", str(member.p2p_port), "--bootnodes", ",".join(self.bootnodes),
            "--node-key", str(member.node_key_file), "--rpc-admin", "--rpc-clique-votes", "-vv",
            # A period-0 chain (blocks may share a second) seals on demand; any other seals every period.
            *(("--period", str(self.period)) if self.period else ("--seal-on-demand",)), *member.extra_args,
        ]  # fmt: skip
        member.proc = start_node(files, member.rpc_port, args, log=member.log)
        if wait:
            self.wait_up(member)

    def wait_up(self, member: Member, timeout: float = 90) -> None:  # a cold start under load is slow
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not member.alive:
                raise AssertionError(f"node {member.index} exited:\n{self.tail(member)}")
            try:
                member.rpc.call("eth_blockNumber", timeout=2)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        raise AssertionError(f"node {member.index} did not come up:\n{self.tail(member)}")

    def tail(self, member: Member, lines: int = 40) -> str:
        if member.log is None or not member.log.exists():
            return ""
        return "\n".join(member.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self, member: Member) -> None:
        if member.proc is not None and member.proc.poll() is None:
            member.proc.send_signal(signal.SIGKILL)
            member.proc.wait(10)

    def stop_all(self) -> None:
        for m in self.members:  # all at once, then wait for each: they shut down in parallel
            if m.alive:
                assert m.proc is not None
                m.proc.send_signal(signal.SIGTERM)
        for m in self.members:
            if m.proc is not None:
                stop_process(m.proc)

    def running(self) -> list[Member]:
        return [m for m in self.members if m.alive]

    def send_transfer(self, via: Member, nonce: int, value: int = 1) -> str:
        tx = self.user.sign_transaction(
            {"to": account("sink").address, "value": value, "gas": 21_000, "maxFeePerGas": 10**10,
             "maxPriorityFeePerGas": 10**9, "nonce": nonce, "chainId": CHAIN_ID, "type": 2}
        )  # fmt: skip
        return str(via.rpc.call("eth_sendRawTransaction", "0x" + tx.raw_transaction.hex()))

    def partition(self, side_a: Sequence[Member], side_b: Sequence[Member]) -> None:
        for a in side_a:
            for b in side_b:
                a.rpc.call("admin_removePeer", b.enode)
                b.rpc.call("admin_removePeer", a.enode)

    def heal(self) -> None:
        for a in self.running():
            for b in self.members:
                if a is not b:
                    a.rpc.call("admin_addPeer", b.enode)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    end = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, RuntimeError, KeyError, TypeError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def wait_blocks(
    watch: Member,
    predicate: Callable[[], Any],
    blocks: int,
    what: str,
    stall: float = 60,
    interval: float = 0.2,
) -> Any:
    """Wait for ``predicate`` with a budget in *chain progress*: fail once ``watch`` has sealed or imported
    ``blocks`` more blocks without it, or when its head has not moved for ``stall`` seconds.

    A loaded machine seals more slowly and so gets proportionally more wall-clock time; a budget in seconds
    is what made the vote tests flaky under load (a vote that straddles an epoch boundary needs a second
    epoch, which on a slow machine takes longer than any fixed timeout chosen on a fast one).
    """
    start = watch.rpc.number()
    head, moved = start, time.monotonic()
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, RuntimeError, KeyError, TypeError) as exc:
            last_error = exc
        try:
            now = watch.rpc.number()
        except (requests.RequestException, RuntimeError) as exc:
            now, last_error = head, exc
        if now != head:
            head, moved = now, time.monotonic()
        if head - start > blocks:
            raise AssertionError(
                f"{what}: not after {blocks} blocks (#{start} to #{head}; last error: {last_error})"
            )
        if time.monotonic() - moved > stall:
            raise AssertionError(
                f"{what}: the chain stalled at #{head} for {stall}s (last error: {last_error})"
            )
        time.sleep(interval)


def same_head(members: Sequence[Member], blocks: int = 20) -> str:
    """Wait until every member reports the same head block (the network converged); returns its hash."""
    return str(
        wait_blocks(
            members[0],
            lambda: len(heads := {m.rpc.block("latest")["hash"] for m in members}) == 1 and heads.pop(),
            blocks,
            "one head on every node",
            interval=0.05,
        )
    )


def make_cluster(
    root: Path,
    size: int,
    *,
    epoch: int = 30_000,
    period: int = 1,
    allow_empty: bool = True,
    signers: int | None = None,
    allowed: int | None = None,
    extra_alloc: dict[str, int] | None = None,
    genesis_options: dict[str, Any] | None = None,
) -> Cluster:
    """Create (not start) ``size`` nodes; the first ``signers`` (default all) are genesis signers and the first
    ``allowed`` (default all) are in the genesis node allowlist."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "password").write_text(PASSWORD)
    user = account("user")
    members: list[Member] = []
    for i in range(size):
        datadir = root / f"node{i}"
        datadir.mkdir()
        signer = account(f"signer{i}")
        key = NodeKey.from_hex(keccak(b"pamchain-node-key-" + str(i).encode()).hex())
        keystore = datadir / "signer.json"
        write_keystore(keystore, bytes(signer.key), PASSWORD.strip(), iterations=2)
        key_file = datadir / "nodekey"
        key_file.write_text(key.private.to_hex()[2:] + "\n")
        members.append(
            Member(i, datadir, signer, key, free_port(), free_port(), keystore, key_file,
                   extra_args=("--allow-empty",) if allow_empty else (), log=root / f"node{i}.log")
        )  # fmt: skip
    count = size if signers is None else signers
    alloc = {user.address: 10**24, **(extra_alloc or {})}
    genesis = make_genesis(
        [m.signer.address for m in members[:count]], CHAIN_ID, alloc, period=period, epoch=epoch,
        node_allowlist=[m.enode for m in members[: size if allowed is None else allowed]],
        **(genesis_options or {}),
    )  # fmt: skip
    genesis_file = root / "genesis.json"
    genesis_file.write_text(json.dumps(genesis))
    for m in members:
        result = subprocess.run(
            [*NODE, "init", "--datadir", str(m.datadir), "--genesis", str(genesis_file)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    cluster = Cluster(root, members, genesis, user, period)
    cluster.bootnodes = [m.enode for m in members]  # every node dials every other: a full mesh
    return cluster
