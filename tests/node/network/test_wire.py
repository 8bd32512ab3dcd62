"""The peer handshake and encrypted frames in isolation: who is accepted, who is refused, what is tamper-evident."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pamchain.node.p2p import wire
from pamchain.node.p2p.identity import Enode, NodeKey, parse_node_id

GENESIS = b"\x11" * 32


async def _link(
    listener: NodeKey,
    dialer: NodeKey,
    *,
    expected: bytes | None = None,
    listener_allows: Callable[[bytes], bool] = lambda _: True,
    dialer_allows: Callable[[bytes], bool] = lambda _: True,
    genesis: bytes = GENESIS,
    then: Callable[[wire.Session, wire.Session], Awaitable[Any]] | None = None,
) -> Any:
    accepted: asyncio.Future[wire.Session] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            accepted.set_result(await wire.respond(ws, listener, GENESIS, listener_allows))
        except Exception as exc:
            accepted.set_exception(exc)
            return ws
        await done.wait()
        return ws

    app = web.Application()
    app.router.add_get("/p2p", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}/p2p") as ws:
            try:
                ours = await wire.initiate(ws, dialer, genesis, expected or listener.node_id, dialer_allows)
            except wire.HandshakeError:
                await ws.close()
                await asyncio.gather(accepted, return_exceptions=True)  # the listener's side, retrieved
                raise
            theirs = await asyncio.wait_for(accepted, 5)
            result = await then(ours, theirs) if then else (ours, theirs)
            done.set()
            return result
    finally:
        done.set()
        await runner.cleanup()


def test_mutual_authentication_and_encrypted_frames() -> None:
    a, b = NodeKey.generate(), NodeKey.generate()

    async def exchange(ours: wire.Session, theirs: wire.Session) -> Any:
        await ours.send(wire.TXS, b"hello")
        await theirs.send(wire.STATUS, b"world")
        return await theirs.recv(), await ours.recv(), ours.remote_id, theirs.remote_id

    got_b, got_a, id_seen_by_a, id_seen_by_b = asyncio.run(_link(b, a, then=exchange))
    assert got_b == (wire.TXS, b"hello") and got_a == (wire.STATUS, b"world")
    assert id_seen_by_a == b.node_id and id_seen_by_b == a.node_id


def test_dialler_refuses_a_listener_with_another_key() -> None:
    listener, impostor_expected, dialer = NodeKey.generate(), NodeKey.generate(), NodeKey.generate()
    with pytest.raises(wire.HandshakeError, match="differs from the dialled address"):
        asyncio.run(_link(listener, dialer, expected=impostor_expected.node_id))


def test_listener_refuses_a_node_outside_the_allowlist() -> None:
    listener, stranger = NodeKey.generate(), NodeKey.generate()
    with pytest.raises(wire.HandshakeError):
        asyncio.run(_link(listener, stranger, listener_allows=lambda node_id: False))


def test_other_chain_is_refused() -> None:
    with pytest.raises(wire.HandshakeError, match="another chain"):
        asyncio.run(_link(NodeKey.generate(), NodeKey.generate(), genesis=b"\x22" * 32))


def test_tampered_frame_closes_the_link() -> None:
    a, b = NodeKey.generate(), NodeKey.generate()

    async def tamper(ours: wire.Session, theirs: wire.Session) -> Any:
        await ours.ws.send_bytes(b"\x00" * 40)  # not sealed with the session key
        return await asyncio.gather(theirs.recv(), ours.recv())  # the dialer sees the close

    assert asyncio.run(_link(b, a, then=tamper)) == [None, None]


def test_enode_round_trip() -> None:
    key = NodeKey.generate()
    text = str(Enode(key.node_id, "10.0.0.1", 30310))
    assert Enode.parse(text) == Enode(key.node_id, "10.0.0.1", 30310)
    assert parse_node_id(text) == key.node_id == parse_node_id(key.node_id.hex())
