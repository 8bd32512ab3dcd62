"""The peer link in isolation: mutual TLS 1.3, who is accepted and who is refused, and the limits before and
after authentication."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509
from pamchain.node.p2p import certificate, wire
from pamchain.node.p2p.certificate import TlsIdentity
from pamchain.node.p2p.identity import Enode, NodeKey, parse_node_id

from .tls_fakes import forged_identity, raw_frame

GENESIS = b"\x11" * 32
FAST = wire.LinkLimits(handshake_timeout=2.0)


async def _link(
    listener: TlsIdentity,
    dialer: TlsIdentity,
    *,
    expected: bytes | None = None,
    listener_allows: Callable[[bytes], bool] = lambda _: True,
    dialer_allows: Callable[[bytes], bool] = lambda _: True,
    genesis: bytes = GENESIS,
    limits: wire.LinkLimits = FAST,
    then: Callable[[wire.Session, wire.Session], Awaitable[Any]] | None = None,
) -> Any:
    """Listen with ``listener``, dial with ``dialer``; the listener's outcome is awaited either way."""
    accepted: asyncio.Future[wire.Session] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            accepted.set_result(await wire.respond(reader, writer, GENESIS, listener_allows, limits))
        except Exception as exc:
            accepted.set_exception(exc)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=listener.server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        try:
            ours = await wire.initiate(
                "127.0.0.1", port, dialer, genesis, expected or listener.node_id, dialer_allows, limits
            )
        except wire.HandshakeError:
            await asyncio.gather(asyncio.wait_for(accepted, 5), return_exceptions=True)
            raise
        theirs = await asyncio.wait_for(accepted, 5)
        try:
            return await then(ours, theirs) if then else (ours, theirs)
        finally:
            await ours.close()
            await theirs.close()
    finally:
        server.close()


def _pair() -> tuple[NodeKey, NodeKey, TlsIdentity, TlsIdentity]:
    a, b = NodeKey.generate(), NodeKey.generate()
    return a, b, TlsIdentity.create(a), TlsIdentity.create(b)


def test_mutual_tls13_authentication_and_messages() -> None:
    a, b, ta, tb = _pair()

    async def exchange(ours: wire.Session, theirs: wire.Session) -> Any:
        await ours.send(wire.TXS, b"hello")
        await theirs.send(wire.STATUS, b"world")
        tls = ours.writer.get_extra_info("ssl_object")
        return await theirs.recv(), await ours.recv(), ours.remote_id, theirs.remote_id, tls.version()

    got_b, got_a, id_seen_by_a, id_seen_by_b, version = asyncio.run(_link(tb, ta, then=exchange))
    assert got_b == (wire.TXS, b"hello") and got_a == (wire.STATUS, b"world")
    assert id_seen_by_a == b.node_id and id_seen_by_b == a.node_id
    assert version == "TLSv1.3"


def test_handshake_time() -> None:
    _a, _b, ta, tb = _pair()

    async def many() -> float:
        started = time.perf_counter()
        for _ in range(20):
            await _link(tb, ta)
        return (time.perf_counter() - started) / 20

    per_link = asyncio.run(many())
    print(f"handshake (TCP + TLS 1.3 + identity + HELLO, loopback, in-process): {per_link * 1000:.1f} ms")
    assert per_link < 1.0


def test_dialler_refuses_a_listener_with_another_key() -> None:
    _a, _b, ta, tb = _pair()
    with pytest.raises(wire.HandshakeError, match="differs from the dialled address"):
        asyncio.run(_link(tb, ta, expected=NodeKey.generate().node_id))


def test_listener_refuses_a_node_outside_the_allowlist() -> None:
    _a, _b, ta, tb = _pair()
    with pytest.raises(wire.HandshakeError, match=r"refused by peer.*not in the node allowlist"):
        asyncio.run(_link(tb, ta, listener_allows=lambda node_id: False))


def test_other_chain_is_refused() -> None:
    _a, _b, ta, tb = _pair()
    with pytest.raises(wire.HandshakeError):
        asyncio.run(_link(tb, ta, genesis=b"\x22" * 32))


@pytest.mark.parametrize(
    "forgery,error",
    [
        ("no-extension", "carries no node identity"),
        ("stolen-extension", "signature over the certificate key is invalid"),
        ("truncated-extension", "malformed node identity extension"),
        ("rlp-list-id", "malformed node identity extension"),
    ],
)
def test_a_certificate_that_does_not_prove_a_node_key_is_refused_by_both_sides(
    forgery: str, error: str
) -> None:
    """A dialer or listener whose certificate lacks the binding, or copies another node's, is refused."""
    _a, b, ta, tb = _pair()
    forged = forged_identity(forgery, victim=tb)
    with pytest.raises(wire.HandshakeError, match=error):  # as a listener, seen by an honest dialer
        asyncio.run(_link(forged, ta, expected=b.node_id))
    with pytest.raises(wire.HandshakeError, match=error):  # as a dialer, seen by an honest listener
        asyncio.run(_link(ta, forged))


def test_tls12_and_plain_tcp_are_refused() -> None:
    _a, _b, _ta, tb = _pair()

    async def attempt() -> tuple[str, float]:
        server = await asyncio.start_server(
            lambda r, w: wire.respond(r, w, GENESIS, lambda _: True, FAST),
            "127.0.0.1",
            0,
            ssl=tb.server_context,
            ssl_handshake_timeout=FAST.handshake_timeout,
        )
        port = server.sockets[0].getsockname()[1]
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await asyncio.open_connection("127.0.0.1", port, ssl=old)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)  # no TLS, says nothing
            started = time.monotonic()
            leftover = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return leftover.decode(errors="replace"), time.monotonic() - started
        finally:
            server.close()

    _, silent_for = asyncio.run(attempt())
    assert silent_for < FAST.handshake_timeout + 2  # dropped at the pre-authentication deadline


def test_pre_auth_frames_are_small_and_the_hello_has_a_deadline() -> None:
    """Before HELLO, a frame header above 1 KiB is refused before its body is read; a silent dialer that
    completed TLS is dropped at the deadline."""
    _a, b, ta, tb = _pair()

    async def attack(send: bytes) -> tuple[str, float]:
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await wire.respond(reader, writer, GENESIS, lambda _: True, FAST)
                outcome.set_result("accepted")
            except wire.HandshakeError as exc:
                outcome.set_result(str(exc))

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=tb.server_context)
        port = server.sockets[0].getsockname()[1]
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ta.client_context)
            started = time.monotonic()
            writer.write(send)
            await writer.drain()
            reason = await asyncio.wait_for(outcome, 10)
            writer.close()
            return reason, time.monotonic() - started
        finally:
            server.close()

    reason, took = asyncio.run(attack(raw_frame(wire.HELLO, b"", length=16 * 1024 * 1024) + b"x" * 4096))
    assert "frame of 16777216 bytes (limit 1024)" in reason and took < 1.0
    reason, took = asyncio.run(attack(b""))
    assert "no complete handshake within 2 s" in reason and took < FAST.handshake_timeout + 2
    assert b.node_id  # the listener's key is never the problem here


def test_after_authentication_message_size_and_rate_are_limited() -> None:
    _a, _b, ta, tb = _pair()
    limits = wire.LinkLimits(
        handshake_timeout=2.0, max_message=4096, messages_per_second=50, message_burst=100
    )

    async def oversized(ours: wire.Session, theirs: wire.Session) -> str:
        await ours.send(wire.TXS, b"x" * 5000)
        with pytest.raises(wire.PeerMisbehaved) as caught:
            await theirs.recv()
        return caught.value.reason

    async def flood(ours: wire.Session, theirs: wire.Session) -> tuple[int, str]:
        ours.writer.write(b"".join(raw_frame(wire.TXS, b"\xc0") for _ in range(1000)))
        received = 0
        with pytest.raises(wire.PeerMisbehaved) as caught:
            while await theirs.recv() is not None:
                received += 1
        return received, caught.value.reason

    async def trickle(ours: wire.Session, theirs: wire.Session) -> str:
        ours.writer.write(raw_frame(wire.TXS, b"x" * 10, length=1000))  # announces 1000 bytes, sends 11
        with pytest.raises(wire.PeerMisbehaved) as caught:
            await theirs.recv()
        return caught.value.reason

    async def silent(ours: wire.Session, theirs: wire.Session) -> str:
        with pytest.raises(wire.PeerMisbehaved) as caught:
            await theirs.recv()
        return caught.value.reason

    assert asyncio.run(_link(tb, ta, limits=limits, then=oversized)) == "frame of 5001 bytes (limit 4096)"
    slow = wire.LinkLimits(handshake_timeout=2.0, idle_timeout=0.5, min_transfer_rate=1000)
    assert (
        asyncio.run(_link(tb, ta, limits=slow, then=trickle))
        == "frame of 1000 bytes not received within 1.5 s"
    )
    assert asyncio.run(_link(tb, ta, limits=slow, then=silent)) == "silent for 0.5 s"
    received, reason = asyncio.run(_link(tb, ta, limits=limits, then=flood))
    assert 100 <= received < 1000 and reason == "more than 50 messages/s"  # burst 100, then refill only


def test_certificate_binding_is_checked_byte_for_byte() -> None:
    key = NodeKey.generate()
    cert = x509.load_der_x509_certificate(TlsIdentity.create(key).certificate_der)
    value = cert.extensions.get_extension_for_oid(certificate.EXTENSION_OID).value
    assert isinstance(value, x509.UnrecognizedExtension)
    assert value.value[5:69] == key.node_id and len(value.value) == 136


def test_enode_round_trip() -> None:
    key = NodeKey.generate()
    text = str(Enode(key.node_id, "10.0.0.1", 30310))
    assert Enode.parse(text) == Enode(key.node_id, "10.0.0.1", 30310)
    assert parse_node_id(text) == key.node_id == parse_node_id(key.node_id.hex())
