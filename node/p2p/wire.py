"""The peer link: mutual TLS 1.3 over TCP (stdlib ``ssl``), the peer's node id proven by its certificate
(``certificate.py``), a HELLO naming the chain, then length-prefixed messages under per-peer limits.

Every step before the peer is authenticated has a deadline and a small size bound; every malformed input
raises ``HandshakeError`` (a clean refusal); after it, ``LinkLimits`` bounds message size and rate. Layout of
a frame: 4-byte big-endian length, then that many bytes: a one-byte code and its RLP payload. See
docs/network.md, "Transport".
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import rlp

from ..errors import NodeError
from .certificate import IdentityError, TlsIdentity, peer_node_id

PROTOCOL = b"pamchain-p2p/2"

# message codes (first byte of every frame)
STATUS, TXS, NEW_BLOCK, GET_BLOCKS, BLOCKS, GET_ANCESTORS = range(6)
# link codes, handled here and never seen by the service
HELLO, PING, DISCONNECT = 0x10, 0x11, 0x12

_HEADER = 4


@dataclass(frozen=True)
class LinkLimits:
    """Bounds on what a peer may make this node do; configurable per ``P2PService``."""

    handshake_timeout: float = 5.0  # connect + TLS + identity + HELLO, in total, on either side
    pre_auth_max_frame: int = 1024  # the only frame read before authentication is HELLO (~50 bytes)
    max_message: int = 16 * 1024 * 1024  # after authentication (a BLOCKS reply of 128 blocks fits)
    messages_per_second: float = 1000.0  # sustained, per peer (token bucket) ...
    message_burst: float = 4000.0  # ... with this burst
    bytes_per_second: float = 32 * 1024 * 1024
    byte_burst: float = 64 * 1024 * 1024
    heartbeat: float = 2.0  # each side sends PING this often ...
    idle_timeout: float = 8.0  # ... and drops a link that sent nothing for this long
    min_transfer_rate: float = 64 * 1024  # bytes/s below which a frame's body is given up on (slowloris)
    redial_min: float = 0.5  # backoff after a failed dial: from this, doubling after each failure ...
    redial_max: float = 5.0  # ... up to this (+-20 % jitter); a link that came up resets it

    def __post_init__(self) -> None:
        if self.handshake_timeout <= 0:
            raise ValueError("the p2p handshake timeout must be positive")
        if self.redial_min <= 0:
            raise ValueError("the p2p redial backoff must start above 0 s")
        if self.redial_max < self.redial_min:
            raise ValueError(f"the p2p redial cap must be at least the first backoff ({self.redial_min:g} s)")


class HandshakeError(NodeError):
    """The peer failed authentication, is not allowlisted, is on another chain, or broke the protocol."""


class Unreachable(HandshakeError):
    """The dialled address did not accept a TCP connection (nothing listening, host down)."""


class PeerMisbehaved(NodeError):
    """An authenticated peer broke a limit (message size, rate) or the framing; ``reason`` goes to the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Bucket:
    """Token bucket: ``take(n)`` is False once the peer spent more than rate * elapsed + burst."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def take(self, amount: float) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= amount
        return self.tokens >= 0


def _frame(code: int, payload: bytes) -> bytes:
    return (1 + len(payload)).to_bytes(_HEADER, "big") + bytes([code]) + payload


async def _read_frame(
    reader: asyncio.StreamReader, limit: int, idle: float | None = None, min_rate: float = 1.0
) -> tuple[int, bytes] | None:
    """One frame, None at a clean end of stream; ``PeerMisbehaved`` if its length is 0 or above ``limit``
    (checked before reading the body, so an oversized announcement costs us 4 bytes), if no header comes
    within ``idle`` seconds, or if the body comes slower than ``idle`` + ``min_rate`` bytes per second."""
    try:
        header = await asyncio.wait_for(reader.readexactly(_HEADER), idle)
    except TimeoutError:
        raise PeerMisbehaved(f"silent for {idle:g} s") from None
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise PeerMisbehaved("link closed inside a frame header") from None
        return None
    length = int.from_bytes(header, "big")
    if length == 0 or length > limit:
        raise PeerMisbehaved(f"frame of {length} bytes (limit {limit})")
    deadline = None if idle is None else idle + length / min_rate
    try:
        body = await asyncio.wait_for(reader.readexactly(length), deadline)
    except TimeoutError:
        raise PeerMisbehaved(f"frame of {length} bytes not received within {deadline:g} s") from None
    except asyncio.IncompleteReadError:
        raise PeerMisbehaved("link closed inside a frame") from None
    return body[0], body[1:]


class Session:
    """An authenticated link to one peer: ``send``/``recv`` messages; PING and DISCONNECT are handled here."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        remote_id: bytes,
        initiator: bool,
        limits: LinkLimits,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.remote_id = remote_id
        self.initiator = initiator
        self.limits = limits
        self.remote_reason: str | None = None  # what the peer said when it disconnected us
        self._lock = asyncio.Lock()
        self._messages = _Bucket(limits.messages_per_second, limits.message_burst)
        self._bytes = _Bucket(limits.bytes_per_second, limits.byte_burst)
        self._pinger: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    def start(self) -> None:
        """Begin the heartbeat (the peer drops a link it hears nothing on for ``idle_timeout``)."""
        if self._pinger is None:
            self._pinger = asyncio.ensure_future(self._ping_forever())

    async def _ping_forever(self) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while not self.closed:
                await asyncio.sleep(self.limits.heartbeat)
                await self._write(_frame(PING, b""))

    async def _write(self, data: bytes) -> None:
        async with self._lock:  # frames from concurrent senders must not interleave
            if self.writer.is_closing():
                raise ConnectionResetError("link closed")
            self.writer.write(data)
            await self.writer.drain()

    async def send(self, code: int, payload: bytes) -> None:
        await self._write(_frame(code, payload))

    async def recv(self) -> tuple[int, bytes] | None:
        """The next message, None when the link closed or went silent; ``PeerMisbehaved`` on a broken limit."""
        limits = self.limits
        while True:
            try:
                frame = await _read_frame(
                    self.reader, limits.max_message, limits.idle_timeout, limits.min_transfer_rate
                )
            except (ConnectionError, OSError) as exc:
                raise PeerMisbehaved(f"link error: {type(exc).__name__}") from None
            if frame is None:
                return None
            code, payload = frame
            if not self._messages.take(1):
                raise PeerMisbehaved(f"more than {limits.messages_per_second:g} messages/s")
            if not self._bytes.take(len(payload) + 1 + _HEADER):
                raise PeerMisbehaved(f"more than {limits.bytes_per_second:g} bytes/s")
            if code == PING:
                continue
            if code == DISCONNECT:
                self.remote_reason = _reason(payload)
                return None
            return code, payload

    async def close(self, reason: str = "") -> None:
        """Say why (best effort, one frame) and close the TLS link."""
        if self._pinger is not None:
            self._pinger.cancel()
        if not self.writer.is_closing():
            if reason:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._write(_frame(DISCONNECT, reason.encode()[:200])), 1.0)
            await _close(self.writer)


def _reason(payload: bytes) -> str:
    return payload[:200].decode("utf-8", "replace")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


def _hello(genesis: bytes) -> bytes:
    return _frame(HELLO, rlp.encode([PROTOCOL, genesis]))


async def _read_hello(reader: asyncio.StreamReader, limits: LinkLimits) -> tuple[int, bytes]:
    try:
        frame = await _read_frame(reader, limits.pre_auth_max_frame)
    except PeerMisbehaved as exc:
        raise HandshakeError(exc.reason) from None
    if frame is None:
        raise HandshakeError("peer closed the link during the handshake")
    return frame


def _check_hello(frame: tuple[int, bytes], genesis: bytes) -> None:
    code, payload = frame
    if code == DISCONNECT:
        raise HandshakeError(f"refused by peer: {_reason(payload)!r}")
    try:
        fields = rlp.decode(payload) if code == HELLO else None
    except rlp.exceptions.DecodingError:
        fields = None
    if (
        not isinstance(fields, list)
        or len(fields) != 2
        or not all(isinstance(f, bytes) for f in fields)
        or fields[0] != PROTOCOL
    ):
        raise HandshakeError(f"not a {PROTOCOL.decode()} hello")
    if fields[1] != genesis:
        raise HandshakeError(f"peer is on another chain (genesis 0x{fields[1][:32].hex()})")


def _authenticate(
    writer: asyncio.StreamWriter, allowed: Callable[[bytes], bool], expected_id: bytes | None = None
) -> bytes:
    tls = writer.get_extra_info("ssl_object")
    try:
        remote_id = peer_node_id(tls)
    except IdentityError as exc:
        raise HandshakeError(str(exc)) from exc
    if expected_id is not None and remote_id != expected_id:
        raise HandshakeError("listener's node id differs from the dialled address")
    if not allowed(remote_id):
        raise HandshakeError(f"node {remote_id.hex()[:16]}... is not in the node allowlist")
    return remote_id


async def initiate(
    host: str,
    port: int,
    identity: TlsIdentity,
    genesis: bytes,
    expected_id: bytes,
    allowed: Callable[[bytes], bool],
    limits: LinkLimits | None = None,
) -> Session:
    """Dial: TCP, TLS 1.3, the listener's id must be ``expected_id`` and allowed, HELLO both ways; all of it
    within ``limits.handshake_timeout``. Raises ``HandshakeError`` (never anything else) on any failure."""
    limits = limits or LinkLimits()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(limits.handshake_timeout):
            try:
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=identity.client_context,
                    ssl_handshake_timeout=limits.handshake_timeout,
                    limit=2**16,
                )
            except ConnectionRefusedError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}") from None
            remote_id = _authenticate(writer, allowed, expected_id)
            writer.write(_hello(genesis))
            await writer.drain()
            _check_hello(await _read_hello(reader, limits), genesis)
    except BaseException as exc:
        if writer is not None:
            writer.transport.abort()
        if isinstance(exc, HandshakeError):
            raise
        if isinstance(exc, TimeoutError):
            raise HandshakeError(f"no complete handshake within {limits.handshake_timeout:g} s") from None
        if isinstance(exc, ssl.SSLError):
            raise HandshakeError(f"TLS: {exc.reason or exc}") from None
        if isinstance(exc, (OSError, EOFError, asyncio.IncompleteReadError)):
            raise HandshakeError(f"{type(exc).__name__}: {exc}") from None
        raise
    return Session(reader, writer, remote_id, True, limits)


async def respond(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    genesis: bytes,
    allowed: Callable[[bytes], bool],
    limits: LinkLimits | None = None,
) -> Session:
    """Listener side, on a link whose TLS handshake is done: the dialer's id must be allowed, then HELLO both
    ways within ``limits.handshake_timeout``. A refused dialer gets one DISCONNECT frame with the reason."""
    limits = limits or LinkLimits()
    try:
        async with asyncio.timeout(limits.handshake_timeout):
            # Read (not trust) the dialer's HELLO first: refusing before it arrived would make our close
            # race its HELLO, and the reset would swallow the reason we send.
            hello = await _read_hello(reader, limits)
            try:
                remote_id = _authenticate(writer, allowed)
            except HandshakeError as exc:
                with contextlib.suppress(Exception):
                    writer.write(_frame(DISCONNECT, b"refused: " + str(exc).encode()[:120]))
                    await writer.drain()
                raise
            _check_hello(hello, genesis)
            writer.write(_hello(genesis))
            await writer.drain()
    except BaseException as exc:
        await _close(writer)
        if isinstance(exc, HandshakeError):
            raise
        if isinstance(exc, TimeoutError):
            raise HandshakeError(f"no complete handshake within {limits.handshake_timeout:g} s") from None
        if isinstance(exc, (OSError, EOFError, asyncio.IncompleteReadError)):
            raise HandshakeError(f"{type(exc).__name__}: {exc}") from None
        raise
    return Session(reader, writer, remote_id, False, limits)


__all__ = [
    "BLOCKS",
    "GET_ANCESTORS",
    "GET_BLOCKS",
    "NEW_BLOCK",
    "PROTOCOL",
    "STATUS",
    "TXS",
    "HandshakeError",
    "LinkLimits",
    "PeerMisbehaved",
    "Session",
    "TlsIdentity",
    "Unreachable",
    "initiate",
    "respond",
]
