"""User calls have a gas cap and a time budget, and never hold up sealing (issue 12, item 6).

Each test runs the node as its own process sealing a block a second (empty ones too) and measures block
production while a client runs an endless loop through ``eth_call``: blocks must keep their period.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from .node_process import LOOP_ADDRESS, NodeProcess, RpcClient, node_process

HEAVY_GAS = hex(90_000_000)  # what froze sealing for ~14 s before calls left the chain thread


@pytest.fixture(scope="module")
def default_node(tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount) -> Iterator[NodeProcess]:
    with node_process(tmp_path_factory.mktemp("calls-default"), signer, []) as node:
        yield node


@pytest.fixture(scope="module")
def capped_node(tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount) -> Iterator[NodeProcess]:
    args = ["--rpc-gas-cap", "200000", "--rpc-evm-timeout", "60"]
    with node_process(tmp_path_factory.mktemp("calls-capped"), signer, [], args) as node:
        yield node


def _timestamps(client: RpcClient, first: int, last: int) -> list[int]:
    return [
        int(client.call("eth_getBlockByNumber", hex(n), False)["timestamp"], 16)
        for n in range(first, last + 1)
    ]


def _while_sealing(client: RpcClient, request: dict[str, Any]) -> tuple[dict[str, Any], float, list[int]]:
    """Send ``request`` on another connection; return its reply, how long it took and the timestamps of the
    blocks from the one before it started to the one after it ended."""
    before = client.head()
    reply: dict[str, Any] = {}

    def send() -> None:
        reply.update(RpcClient(client.url).post(request, timeout=120).json())

    started = time.monotonic()
    worker = threading.Thread(target=send)
    worker.start()
    worker.join(120)
    elapsed = time.monotonic() - started
    after = client.head()
    return reply, elapsed, _timestamps(client, before, after)


def _assert_period_kept(timestamps: list[int], elapsed: float) -> None:
    gaps = [b - a for a, b in itertools.pairwise(timestamps)]
    assert gaps, "no block sealed while the call ran"
    # A block a second: timestamps are max(parent + 1, now), so a stalled chain thread shows as a gap.
    assert max(gaps) <= 2, f"sealing stalled while the call ran: gaps {gaps}"
    assert len(gaps) >= int(elapsed) - 2, f"{len(gaps)} blocks in {elapsed:.1f}s"


def test_eth_call__endless_loop__aborted_at_the_time_budget_while_blocks_keep_their_period(
    default_node: NodeProcess,
) -> None:
    client = default_node.rpc()
    request = {"jsonrpc": "2.0", "id": 7, "method": "eth_call",
               "params": [{"to": LOOP_ADDRESS, "gas": HEAVY_GAS}, "latest"]}  # fmt: skip
    reply, elapsed, timestamps = _while_sealing(client, request)
    assert reply["error"] == {"code": -32000, "message": "execution aborted (timeout = 5s)"}, reply
    assert 5 <= elapsed < 30
    _assert_period_kept(timestamps, elapsed)


def test_eth_estimate_gas__endless_loop__aborted_while_blocks_keep_their_period(
    default_node: NodeProcess,
) -> None:
    client = default_node.rpc()
    request = {"jsonrpc": "2.0", "id": 8, "method": "eth_estimateGas", "params": [{"to": LOOP_ADDRESS}]}
    reply, elapsed, timestamps = _while_sealing(client, request)
    assert reply["error"]["code"] == -32000
    assert reply["error"]["message"] in (
        "execution aborted (timeout = 5s)",
        "gas required exceeds allowance (30000000)",
    )
    _assert_period_kept(timestamps, elapsed)


def test_calls__queued_behind_busy_workers__still_answer_within_their_budget(
    default_node: NodeProcess,
) -> None:
    client = default_node.rpc()
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_call",
        "params": [{"to": LOOP_ADDRESS, "gas": HEAVY_GAS}],
    }
    replies: list[tuple[dict[str, Any], float]] = []
    lock = threading.Lock()

    def send() -> None:
        started = time.monotonic()
        reply = RpcClient(client.url).post(request, timeout=120).json()
        with lock:
            replies.append((reply, time.monotonic() - started))

    workers = [threading.Thread(target=send) for _ in range(5)]  # more than the 2 call workers
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert len(replies) == 5
    for reply, elapsed in replies:
        assert reply["error"]["message"] == "execution aborted (timeout = 5s)"
        assert elapsed < 20  # the budget started when the request came in, not when a worker was free
    assert client.head() >= 1


def test_eth_call__gas_above_the_cap__capped_like_geth(capped_node: NodeProcess) -> None:
    client = capped_node.rpc()
    started = time.monotonic()
    reply = client.request("eth_call", {"to": LOOP_ADDRESS, "gas": HEAVY_GAS}, "latest")
    assert reply["error"] == {"code": -32000, "message": "out of gas"}
    assert time.monotonic() - started < 20  # 200,000 gas of loop, not 90,000,000


def test_eth_estimate_gas__beyond_the_cap__gas_required_exceeds_allowance(capped_node: NodeProcess) -> None:
    reply = capped_node.rpc().request("eth_estimateGas", {"to": LOOP_ADDRESS})
    assert reply["error"] == {"code": -32000, "message": "gas required exceeds allowance (200000)"}


def test_calls__within_budget__still_work(capped_node: NodeProcess, users: list[LocalAccount]) -> None:
    client = capped_node.rpc()
    assert client.call("eth_call", {"to": users[0].address, "data": "0x"}, "latest") == "0x"
    assert client.call("eth_estimateGas", {"from": users[0].address, "to": users[1].address}) == hex(21_000)
    listed = client.call("eth_createAccessList", {"to": users[1].address}, "latest")
    assert listed["gasUsed"] == hex(21_000)
