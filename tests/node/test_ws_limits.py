"""WebSocket clients cannot stop sealing (issue 12, item 7): bounded per-connection send queues, slow
consumers dropped with a reason, limits on connections and subscriptions with clear JSON-RPC errors.

The node runs as its own process sealing a block a second; the hostile client is a raw socket that
subscribes a lot and then never reads.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from eth_account.signers.local import LocalAccount

from .node_process import NodeProcess, RpcClient, node_process, wait_until


@pytest.fixture(scope="module")
def ws_node(tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount) -> Iterator[NodeProcess]:
    with node_process(tmp_path_factory.mktemp("ws-default"), signer, []) as node:
        yield node


@pytest.fixture(scope="module")
def small_ws_node(tmp_path_factory: pytest.TempPathFactory, signer: LocalAccount) -> Iterator[NodeProcess]:
    args = ["--ws-max-connections", "2", "--ws-max-subscriptions", "3"]
    with node_process(tmp_path_factory.mktemp("ws-small"), signer, [], args) as node:
        yield node


def _frame(text: str) -> bytes:
    """A masked client text frame (RFC 6455)."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _raw_ws(port: int) -> socket.socket:
    """Open a WebSocket with a tiny receive buffer: the kernel will hold little of what the node sends."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)
        assert chunk, "the node closed the handshake"
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def _gaps(client: RpcClient, first: int, last: int) -> list[int]:
    stamps = [
        int(client.call("eth_getBlockByNumber", hex(n), False)["timestamp"], 16)
        for n in range(first, last + 1)
    ]
    return [b - a for a, b in itertools.pairwise(stamps)]


def _read_until_closed(sock: socket.socket, timeout: float) -> tuple[int, bytes]:
    """Drain what the node sent; return (bytes read, the tail) once it closes, or fail at the deadline."""
    sock.settimeout(1.0)
    total = 0
    tail = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return total, tail  # the node reset a socket whose buffers were full
        if not chunk:
            return total, tail
        total += len(chunk)
        tail = (tail + chunk)[-512:]
    raise AssertionError(f"the node did not drop the client in {timeout}s ({total} bytes read)")


def test_websocket__client_that_never_reads__dropped_while_sealing_keeps_its_period(
    ws_node: NodeProcess,
) -> None:
    client = ws_node.rpc()
    sock = _raw_ws(ws_node.port)
    try:
        for i in range(1000):
            sock.sendall(
                _frame(
                    json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]})
                )
            )
        start = client.head()
        # 12 blocks: the old node stopped sealing within a few blocks once the socket's buffers were full.
        wait_until(lambda: client.head() >= start + 12, 40, "12 more blocks while the client does not read")
        gaps = _gaps(client, start, client.head())
        assert max(gaps) <= 2, f"sealing stalled behind a client that does not read: gaps {gaps}"
        read, _tail = _read_until_closed(sock, 60)
        assert read > 0
    finally:
        sock.close()
    # The node still serves and seals after dropping it.
    head = client.head()
    wait_until(lambda: client.head() > head, 10, "sealing after the drop")
    assert "dropping WebSocket client" in ws_node.tail(200) and "slow consumer" in ws_node.tail(200)


def test_websocket__subscription_and_connection_limits__clear_errors(small_ws_node: NodeProcess) -> None:
    async def scenario() -> tuple[list[Any], int, dict[str, Any]]:
        async with aiohttp.ClientSession() as session:
            first = await session.ws_connect(small_ws_node.ws_url)
            second = await session.ws_connect(small_ws_node.ws_url)
            replies = []
            for i in range(4):
                await first.send_str(
                    json.dumps({"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]})
                )
                while True:
                    msg = json.loads((await asyncio.wait_for(first.receive(), 10)).data)
                    if msg.get("id") == i:
                        replies.append(msg)
                        break
            async with session.get(small_ws_node.ws_url.replace("ws://", "http://"),
                                   headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                                            "Sec-WebSocket-Version": "13"}) as third:  # fmt: skip
                status, body = third.status, await third.json(content_type=None)
            await first.close()
            await second.close()
            return replies, status, body

    replies, status, body = asyncio.run(scenario())
    assert all("result" in r for r in replies[:3])
    assert replies[3]["error"] == {
        "code": -32005,
        "message": "too many subscriptions on this connection (limit 3)",
    }
    assert status == 503
    assert body["error"] == {"code": -32005, "message": "too many WebSocket connections (limit 2)"}

    # Closed connections free their slots.
    async def reconnect() -> bool:
        async with aiohttp.ClientSession() as session, session.ws_connect(small_ws_node.ws_url) as ws:
            await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}))
            return json.loads((await asyncio.wait_for(ws.receive(), 10)).data)["result"] == hex(31337)

    assert wait_until(lambda: asyncio.run(reconnect()), 10, "a free connection slot")
