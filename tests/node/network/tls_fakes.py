"""Hostile peers for link tests: forged TLS identities, raw frames, and fake listeners (silent, garbage,
wrong node id, malformed HELLO) that run on their own loop in a thread and record every connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
import time
from typing import Any

import rlp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from pamchain.node.p2p import certificate, wire
from pamchain.node.p2p.certificate import TlsIdentity
from pamchain.node.p2p.identity import NodeKey


def raw_frame(code: int, payload: bytes, length: int | None = None) -> bytes:
    """A frame as wire writes it, or with a lying length prefix."""
    size = 1 + len(payload) if length is None else length
    return size.to_bytes(4, "big") + bytes([code]) + payload


def forged_identity(kind: str, victim: TlsIdentity) -> TlsIdentity:
    """A certificate from the (public) issuer whose node-identity extension is missing, copied from
    ``victim``, truncated, or replaced by an RLP list: TLS accepts it, the identity check must not."""
    issuer_key, issuer_cert = certificate._issuer()
    tls_key = ed25519.Ed25519PrivateKey.generate()
    stolen = x509.load_der_x509_certificate(victim.certificate_der)
    ext = stolen.extensions.get_extension_for_oid(certificate.EXTENSION_OID).value
    assert isinstance(ext, x509.UnrecognizedExtension)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forged")]))
        .issuer_name(issuer_cert.subject)
        .public_key(tls_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issuer_cert.not_valid_before_utc)
        .not_valid_after(issuer_cert.not_valid_after_utc)
    )
    values = {
        "stolen-extension": ext.value,
        "truncated-extension": ext.value[:-1],
        "rlp-list-id": rlp.encode([[victim.node_id], ext.value[71:]]),
    }
    if kind in values:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(certificate.EXTENSION_OID, values[kind]), critical=False
        )
    else:
        assert kind == "no-extension", kind
    cert = builder.sign(issuer_key, None)
    return TlsIdentity(
        victim.node_id,
        cert.public_bytes(serialization.Encoding.DER),
        certificate._context(ssl.PROTOCOL_TLS_SERVER, cert, tls_key, issuer_cert),
        certificate._context(ssl.PROTOCOL_TLS_CLIENT, cert, tls_key, issuer_cert),
    )


class FakeListener:
    """Listens on ``port`` in a thread and misbehaves as ``mode`` says:

    - ``silent``: accepts TCP and never says a word;
    - ``garbage``: accepts TCP and sends random bytes;
    - ``wrong-id``: a real TLS 1.3 listener with a valid certificate for another node key;
    - ``bad-hello``: authenticates as the dialled node (holds its key), then sends a HELLO whose genesis is
      an RLP list (the shape that crashed the old dialer).
    """

    def __init__(self, port: int, mode: str, key: NodeKey | None = None) -> None:
        self.port, self.mode = port, mode
        self.connections: list[float] = []  # monotonic time of each accepted connection
        self.replies: list[float] = []  # monotonic time each bad reply was complete
        self._key = key or NodeKey.generate()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "fake listener did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        tls: ssl.SSLContext | None = None
        if self.mode in ("wrong-id", "bad-hello"):
            tls = TlsIdentity.create(self._key).server_context
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", self.port, ssl=tls)
        self._writers: list[asyncio.StreamWriter] = []

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(time.monotonic())
        self._writers.append(writer)
        with contextlib.suppress(Exception):
            if self.mode == "garbage":
                writer.write(os.urandom(4096))
                await writer.drain()
            elif self.mode == "bad-hello":
                await reader.readexactly(4)  # the dialer's HELLO header: it authenticated us
                writer.write(raw_frame(wire.HELLO, rlp.encode([wire.PROTOCOL, [b"\x11" * 32]])))
                await writer.drain()
            if self.mode != "silent":
                self.replies.append(time.monotonic())
            await reader.read()  # hold the link until the dialer gives up on it

    def wait_connections(self, count: int, timeout: float) -> None:
        end = time.monotonic() + timeout
        while len(self.connections) < count:
            assert time.monotonic() < end, (
                f"{self.mode} listener: {len(self.connections)} connection(s) in {timeout} s, wanted {count}"
            )
            time.sleep(0.05)

    def resume_delays(self) -> list[float]:
        """Seconds from each bad reply (or, when silent, each connection) to the dialer's next connection."""
        marks = self.replies if self.replies else self.connections
        return [nxt - mark for mark, nxt in zip(marks, self.connections[1:], strict=False) if nxt > mark]

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for w in self._writers:
                w.transport.abort()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FakeListener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
