"""Hostile input against a node process: 10,000 malformed or hostile JSON-RPC requests, WebSocket abuse and
garbage p2p frames, while the node seals a block every second. Nothing crashes or hangs, every answer is a
standard JSON-RPC error or a result, and sealing goes on throughout (blocks counted from their timestamps).
Set PAMCHAIN_FAULT_REPORT=file to collect the figures (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamchain.node.rpc.methods import RpcApi

from .node_process import NodeProcess, free_port, node_process
from .test_rpc_fuzz import STANDARD_CODES, json_values

REQUESTS = 10_000
PER_BATCH = 10
METHODS = sorted(
    name
    for name in dir(RpcApi)
    if name.split("_", 1)[0] in ("eth", "net", "web3", "txpool", "clique", "debug", "admin")
)
ADDRESSES = ["0x" + "00" * 20, "0x" + "ff" * 20, "0x" + "ab" * 19, "0x" + "12" * 21]
HEXES = [
    "0x",
    "0x0",
    "0x00",
    "0x1",
    "0xffffffffffffffffffffffffffffffffff",
    "0x" + "1" * 64,
    "0xzz",
    "-0x1",
    "1",
]
TAGS = ["latest", "earliest", "pending", "safe", "finalized", "0x0", "0x7fffffff", "0xffffffffffffffff"]
scalars = (
    st.sampled_from(ADDRESSES + HEXES + TAGS)
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(max_size=40)
    | st.none()
    | st.booleans()
)
call_objects = st.fixed_dictionaries(
    {},
    optional={
        key: scalars
        for key in (
            "from",
            "to",
            "gas",
            "gasPrice",
            "value",
            "data",
            "input",
            "nonce",
            "fromBlock",
            "toBlock",
        )
    }
    | {
        "address": scalars | st.lists(scalars, max_size=3),
        "topics": st.lists(scalars | st.lists(scalars), max_size=5),
    },
)
params = st.lists(scalars | call_objects | json_values, max_size=5) | json_values
requests_ = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": st.integers(0, 2**31), "method": st.sampled_from(METHODS)},
    optional={"params": params},
)


@dataclass
class HostileTarget:
    """A node process (tests/node/node_process.py) with its p2p port, and raw-body posting."""

    process: NodeProcess
    p2p_port: int

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.process.proc

    @property
    def rpc_port(self) -> int:
        return self.process.port

    def call(self, method: str, *args: Any) -> Any:
        return self.process.rpc().call(method, *args)

    def post(self, body: bytes) -> requests.Response:
        client = self.process.rpc()
        return client.session.post(
            client.url, data=body, headers={"Content-Type": "application/json"}, timeout=30
        )

    def head(self) -> int:
        return self.process.rpc().head()


@pytest.fixture(scope="module")
def hostile_node(
    tmp_path_factory: pytest.TempPathFactory, signer: Any, users: Any
) -> Iterator[HostileTarget]:
    p2p = free_port()
    root = tmp_path_factory.mktemp("hostile")
    with node_process(
        root, signer, [u.address for u in users], extra_args=("--p2p-port", str(p2p))
    ) as process:
        target = HostileTarget(process, p2p)
        yield target
        assert process.proc.poll() is None, process.tail()  # never crashed


def _check(obj: Any) -> int:
    items = obj if isinstance(obj, list) else [obj]
    errors = 0
    for item in items:
        assert item["jsonrpc"] == "2.0"
        if "error" in item:
            assert item["error"]["code"] in STANDARD_CODES, item
            assert isinstance(item["error"]["message"], str)
            errors += 1
        else:
            assert "result" in item
    return errors


class Tally:
    sent = 0
    errors = 0
    slowest = 0.0


@settings(
    max_examples=REQUESTS // PER_BATCH,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    database=None,
)
@given(st.lists(requests_, min_size=PER_BATCH, max_size=PER_BATCH))
def _hostile_batches(node: HostileTarget, batch: list[dict[str, Any]]) -> None:
    started = time.monotonic()
    reply = node.post(json.dumps(batch).encode())
    Tally.slowest = max(Tally.slowest, time.monotonic() - started)
    assert reply.status_code == 200, reply.text[:300]
    Tally.errors += _check(reply.json())
    Tally.sent += len(batch)


def _sealing_gaps(node: HostileTarget, first: int, last: int) -> list[int]:
    stamps = [
        int(node.call("eth_getBlockByNumber", hex(n), False)["timestamp"], 16) for n in range(first, last + 1)
    ]
    return [b - a for a, b in itertools.pairwise(stamps)]


def test_ten_thousand_hostile_requests__standard_errors__sealing_never_stops(
    hostile_node: HostileTarget,
) -> None:
    node = hostile_node
    first, started = node.head(), time.monotonic()
    _hostile_batches(node)
    # Shapes hypothesis rarely reaches: oversized, deeply nested, wrong types at the top, huge batches.
    for body in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"jsonrpc":"2.0","id":1,"method":"eth_call","params":['
        + b'{"a":' * 5000
        + b"1"
        + b"}" * 5000
        + b"]}",
        json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"} for i in range(5000)]).encode(),
        b'{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x' + b"ab" * 3_000_000 + b'"]}',
        b"\xff\xfe" + os.urandom(4096),
        b'"just a string"',
        b"null",
    ):
        reply = node.post(body)
        assert reply.status_code in (200, 400, 413), reply.status_code
        if reply.content:
            _check(reply.json())
    elapsed = time.monotonic() - started
    last = node.head()
    gaps = _sealing_gaps(node, first, last)
    figures = {
        "requests": Tally.sent,
        "errors": Tally.errors,
        "slowest_batch_s": round(Tally.slowest, 3),
        "seconds": round(elapsed, 1),
        "blocks_sealed": last - first,
        "longest_gap_s": max(gaps, default=0),
    }
    _report("hostile JSON-RPC", figures)
    assert Tally.sent >= REQUESTS
    assert node.proc.poll() is None
    assert last - first >= elapsed * 0.5, figures  # period 1 s: sealing went on
    assert max(gaps, default=0) <= 5, figures


def test_websocket_abuse__garbage_frames_and_a_reader_that_never_reads(hostile_node: HostileTarget) -> None:
    node = hostile_node
    ws_url = f"ws://127.0.0.1:{node.rpc_port}"

    async def abuse() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(ws_url, max_msg_size=0) as ws:
                for frame in (
                    "{",
                    "[]",
                    "null",
                    json.dumps({"id": 1, "method": "eth_subscribe", "params": ["nope"]}),
                ):
                    await ws.send_str(frame)
                await ws.send_bytes(os.urandom(2048))
                deadline = time.monotonic() + 10
                answers = 0
                while answers < 4 and time.monotonic() < deadline:
                    message = await ws.receive(timeout=10)
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        break
                    _check(json.loads(message.data))
                    answers += 1
            # A client that subscribes to everything and never reads.
            lazy = await session.ws_connect(ws_url, max_msg_size=0)
            for i in range(1000):
                await lazy.send_str(
                    json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]})
                )
            before = node.head()
            await asyncio.sleep(6)  # the abuse lasts this long; sealing must not notice
            after = node.head()
            await lazy.close()
            assert after - before >= 3, (before, after)

    asyncio.run(abuse())
    assert node.proc.poll() is None


def test_garbage_p2p_frames__refused__listener_and_sealing_go_on(hostile_node: HostileTarget) -> None:
    node = hostile_node
    rng = random.Random(1)
    before = node.head()
    started = time.monotonic()
    for size in (0, 1, 4, 64, 4096, 70_000):
        with socket.create_connection(("127.0.0.1", node.p2p_port), timeout=5) as sock:
            payload = (2**31 - 1).to_bytes(4, "big") if size == 4 else rng.randbytes(size)
            try:
                sock.sendall(payload)
                sock.settimeout(5)
                sock.recv(1024)  # the node answers or closes: it never waits forever on us
            except OSError:
                pass
    for _ in range(20):  # and a burst of half-open connections
        sock = socket.create_connection(("127.0.0.1", node.p2p_port), timeout=5)
        sock.close()
    with socket.create_connection(("127.0.0.1", node.p2p_port), timeout=5):
        pass  # still listening
    deadline = started + 30
    while node.head() <= before + 1:  # sealing went on: wait for it, a loaded machine may be slow
        assert time.monotonic() < deadline, "no block sealed after the garbage"
        time.sleep(0.1)
    assert node.proc.poll() is None
    _report("garbage p2p frames", {"connections": 27, "blocks_sealed": node.head() - before})


def _report(name: str, figures: dict[str, Any]) -> None:
    target = os.environ.get("PAMCHAIN_FAULT_REPORT")
    if target:
        with Path(target).open("a") as out:
            out.write(json.dumps({"fault": name, **figures}) + "\n")
