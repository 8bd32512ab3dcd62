"""Crash safety: SIGKILL the node process while it seals, restart, and find every receipt a client saw."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account.signers.local import LocalAccount

from support.node_process import NodeFiles, init_node, start_node
from support.rpc import free_port

from .conftest import CHAIN_ID

ROUNDS = int(os.environ.get("PAMCHAIN_NODE_KILLS", "10"))


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def call(self, method: str, *params: Any) -> Any:
        reply = self.session.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
        ).json()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in the order of ``calls``, sent in batches of 500 (the node refuses more than 1,000 in one:
        the long run's receipts passed that)."""
        results: list[Any] = []
        for start in range(0, len(calls), 500):
            chunk = calls[start : start + 500]
            body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(chunk)]
            replies = self.session.post(self.url, json=body, timeout=10).json()
            if not isinstance(replies, list):
                raise RuntimeError(f"batch refused: {replies}")
            results += [r.get("result") for r in sorted(replies, key=lambda r: r["id"])]
        return results


def _start(files: NodeFiles, port: int) -> subprocess.Popen[bytes]:
    return start_node(files, port, ["--seal-on-demand"], log=files.datadir.parent / "node.log")


def _wait_up(client: Client, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"node exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            client.call("eth_blockNumber")
            return
        except (requests.ConnectionError, RuntimeError):
            time.sleep(0.05)
    raise AssertionError("node did not come up")


@pytest.mark.parametrize(
    "rounds", [pytest.param(ROUNDS, id="ci"), pytest.param(100, id="long", marks=pytest.mark.slow)]
)
def test_sigkill_during_sealing_loses_nothing_a_client_saw(
    tmp_path: Path, genesis_factory: Any, signer: LocalAccount, users: list[LocalAccount], rounds: int
) -> None:
    """Killed while sealing under load, ``rounds`` times: after every restart the store opens, the chain links
    from genesis to head and every receipt a client was ever shown is still there."""
    files = init_node(tmp_path, genesis_factory(), bytes(signer.key), password="correct horse")
    log = tmp_path / "node.log"

    rng = random.Random(7)
    seen: dict[str, tuple[str, int]] = {}  # tx hash -> (block hash, block number) as the client saw it
    sender = users[0]
    nonce = 0
    kills = 0
    restarts: list[float] = []
    for _round in range(rounds):
        port = free_port()
        client = Client(f"http://127.0.0.1:{port}")
        spawned = time.monotonic()
        proc = _start(files, port)
        try:
            _wait_up(client, proc, log)
            restarts.append(time.monotonic() - spawned)
            _check_seen(client, seen)
            _check_links(client)
            nonce = int(client.call("eth_getTransactionCount", sender.address, "latest"), 16)
            kill_at = time.monotonic() + rng.uniform(0.3, 1.2)
            while time.monotonic() < kill_at:
                raws = [
                    "0x"
                    + sender.sign_transaction(
                        {
                            "to": users[1].address,
                            "value": 1,
                            "gas": 21000,
                            "maxFeePerGas": 10**10,
                            "maxPriorityFeePerGas": 1,
                            "nonce": nonce + i,
                            "chainId": CHAIN_ID,
                        }
                    ).raw_transaction.hex()
                    for i in range(10)
                ]
                hashes = client.batch([("eth_sendRawTransaction", [r]) for r in raws])
                nonce += sum(1 for h in hashes if h)
                receipts = client.batch([("eth_getTransactionReceipt", [h]) for h in hashes if h])
                for r in receipts:
                    if r:
                        seen[r["transactionHash"]] = (r["blockHash"], int(r["blockNumber"], 16))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1

    # Final restart: consistent head, every receipt the client ever saw, intact parent links.
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}")
    proc = _start(files, port)
    try:
        _wait_up(client, proc, log)
        _check_seen(client, seen)
        head = _check_links(client)
        assert head >= max((n for _h, n in seen.values()), default=0)
        assert int(client.call("eth_getBalance", users[1].address, "latest"), 16) >= 1000 * 10**18 + len(seen)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert kills == rounds and len(seen) > 0
    figures = {
        "fault": "node SIGKILLed while sealing",
        "kills": kills,
        "receipts_seen": len(seen),
        "receipts_lost": 0,
        "restart_s_median": round(statistics.median(restarts), 2),
        "restart_s_max": round(max(restarts), 2),
    }
    target = os.environ.get("PAMCHAIN_FAULT_REPORT")
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps(figures) + "\n")


def _check_links(client: Client) -> int:
    """Every block from genesis to head links to its parent (no corrupt or missing block); returns the head."""
    head = int(client.call("eth_blockNumber"), 16)
    blocks = client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(head + 1)])
    for parent, block in itertools.pairwise(blocks):
        assert block is not None and block["parentHash"] == parent["hash"], f"chain broken at {block}"
    return head


def _check_seen(client: Client, seen: dict[str, tuple[str, int]]) -> None:
    if not seen:
        return
    items = list(seen.items())
    replies = client.batch([("eth_getTransactionReceipt", [h]) for h, _ in items])
    for (tx_hash, (block_hash, number)), reply in zip(items, replies, strict=True):
        assert reply is not None, f"receipt {tx_hash} (block {number}) lost after a crash"
        assert reply["blockHash"] == block_hash and reply["status"] == "0x1"
