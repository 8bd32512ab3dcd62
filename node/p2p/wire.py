"""The peer link: a mutual, signed handshake over a WebSocket, then every frame encrypted and authenticated.

Handshake (SIGMA-style, three messages, all RLP):

    dialer   -> listener  HELLO  [proto, genesis, id_d, eph_d, nonce_d]
    listener -> dialer    HELLO  [proto, genesis, id_l, eph_l, nonce_l, sig_l]   sig_l = sign_l(H("resp", T))
    dialer   -> listener  AUTH   [sig_d]                                         sig_d = sign_d(H("init", T))

``id`` is the node's secp256k1 public key (its node key), ``eph`` a fresh X25519 key, ``nonce`` 32 random
bytes and ``T`` the transcript (the dialer's hello bytes followed by the listener's hello fields). Each side
proves possession of its node key over both ephemeral keys and both nonces, so a signature cannot be replayed
into another session and a man in the middle cannot substitute ephemeral keys. The dialer also checks that
the listener's id is the one in the address it dialled; both sides check the other's id against the node
allowlist before trusting anything else.

Session: X25519(eph_d, eph_l) -> BLAKE2b keyed with H(T) -> two 32-byte keys (one per direction); each frame
is XSalsa20-Poly1305 (libsodium ``secretbox`` via PyNaCl) with a per-direction counter as nonce, so frames
cannot be forged, replayed, reordered or dropped without the link failing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.secret
import rlp
from aiohttp import WSMsgType
from eth_utils import keccak

from ..errors import NodeError
from .identity import NodeKey, verify

PROTOCOL = b"pamchain-p2p/1"
HANDSHAKE_TIMEOUT = 5.0
CLOSE_NOT_ALLOWED = 4003
CLOSE_BAD_HANDSHAKE = 4000

# message codes (first byte of every decrypted frame)
STATUS, TXS, NEW_BLOCK, GET_BLOCKS, BLOCKS, GET_ANCESTORS = range(6)


class HandshakeError(NodeError):
    """The peer failed authentication, is not allowlisted, or is on another chain."""


@dataclass
class Session:
    """An authenticated, encrypted link to one peer."""

    ws: Any  # aiohttp ClientWebSocketResponse or web.WebSocketResponse
    remote_id: bytes
    initiator: bool
    _send_box: nacl.secret.SecretBox
    _recv_box: nacl.secret.SecretBox
    _send_counter: int = 0
    _recv_counter: int = 0

    def __post_init__(self) -> None:
        self._lock = asyncio.Lock()

    async def send(self, code: int, payload: bytes) -> None:
        async with self._lock:  # counters must follow the order frames hit the socket
            nonce = self._send_counter.to_bytes(nacl.secret.SecretBox.NONCE_SIZE, "big")
            self._send_counter += 1
            sealed = self._send_box.encrypt(bytes([code]) + payload, nonce).ciphertext
            await self.ws.send_bytes(sealed)

    async def recv(self) -> tuple[int, bytes] | None:
        """The next message, or None when the link closed."""
        msg = await self.ws.receive()
        if msg.type != WSMsgType.BINARY:
            return None
        nonce = self._recv_counter.to_bytes(nacl.secret.SecretBox.NONCE_SIZE, "big")
        self._recv_counter += 1
        try:
            plain = self._recv_box.decrypt(msg.data, nonce)
        except nacl.exceptions.CryptoError:
            await self.close(CLOSE_BAD_HANDSHAKE, b"bad frame")
            return None
        if not plain:
            return None
        return plain[0], plain[1:]

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)


def _digest(label: bytes, transcript: bytes) -> bytes:
    return keccak(PROTOCOL + b"|" + label + b"|" + transcript)


def _session_keys(eph: nacl.public.PrivateKey, other_eph: bytes, transcript: bytes) -> tuple[bytes, bytes]:
    shared = nacl.bindings.crypto_scalarmult(bytes(eph), other_eph)
    okm = nacl.hash.blake2b(
        shared,
        digest_size=64,
        key=keccak(transcript),
        person=b"pamchain-p2p1",
        encoder=nacl.encoding.RawEncoder,
    )
    return okm[:32], okm[32:]  # dialer->listener, listener->dialer


async def _receive_bytes(ws: Any) -> bytes:
    msg = await ws.receive()
    if msg.type != WSMsgType.BINARY:
        reason = getattr(ws, "close_code", None)
        raise HandshakeError(f"peer closed during handshake (code {reason}, {msg.extra or msg.data!r})")
    return bytes(msg.data)


def _check_hello(fields: list[Any], genesis: bytes, expected_len: int) -> None:
    if len(fields) != expected_len or fields[0] != PROTOCOL:
        raise HandshakeError("not a pamchain-p2p/1 hello")
    if fields[1] != genesis:
        raise HandshakeError(f"peer is on another chain (genesis 0x{bytes(fields[1]).hex()})")
    if len(fields[2]) != 64 or len(fields[3]) != 32 or len(fields[4]) != 32:
        raise HandshakeError("malformed hello")


async def initiate(
    ws: Any, key: NodeKey, genesis: bytes, expected_id: bytes, allowed: Callable[[bytes], bool]
) -> Session:
    """Dialer side. Raises HandshakeError if the listener is not who ``expected_id`` says or not allowed."""
    eph = nacl.public.PrivateKey.generate()
    hello = rlp.encode([PROTOCOL, genesis, key.node_id, bytes(eph.public_key), os.urandom(32)])
    await ws.send_bytes(hello)
    raw = await asyncio.wait_for(_receive_bytes(ws), HANDSHAKE_TIMEOUT)
    fields = rlp.decode(raw)
    _check_hello(fields, genesis, 6)
    remote_id, remote_eph, sig = bytes(fields[2]), bytes(fields[3]), bytes(fields[5])
    if remote_id != expected_id:
        raise HandshakeError("listener's node id differs from the dialled address")
    if not allowed(remote_id):
        raise HandshakeError("listener is not in the node allowlist")
    transcript = hello + rlp.encode(fields[:5])
    if not verify(remote_id, _digest(b"resp", transcript), sig):
        raise HandshakeError("listener's handshake signature is invalid")
    await ws.send_bytes(rlp.encode([key.sign(_digest(b"init", transcript))]))
    d2l, l2d = _session_keys(eph, remote_eph, transcript)
    return Session(ws, remote_id, True, nacl.secret.SecretBox(d2l), nacl.secret.SecretBox(l2d))


async def respond(ws: Any, key: NodeKey, genesis: bytes, allowed: Callable[[bytes], bool]) -> Session:
    """Listener side. Refuses (closing with 4003) a dialer whose node id is not allowlisted."""
    hello = await asyncio.wait_for(_receive_bytes(ws), HANDSHAKE_TIMEOUT)
    try:
        fields = rlp.decode(hello)
        _check_hello(fields, genesis, 5)
    except (HandshakeError, rlp.exceptions.DecodingError) as exc:
        await ws.close(code=CLOSE_BAD_HANDSHAKE, message=str(exc).encode()[:120])
        raise HandshakeError(str(exc)) from exc
    remote_id, remote_eph = bytes(fields[2]), bytes(fields[3])
    if not allowed(remote_id):
        await ws.close(code=CLOSE_NOT_ALLOWED, message=b"node not allowlisted")
        raise HandshakeError(f"refused node {remote_id.hex()[:16]}...: not in the node allowlist")
    eph = nacl.public.PrivateKey.generate()
    body = [PROTOCOL, genesis, key.node_id, bytes(eph.public_key), os.urandom(32)]
    transcript = hello + rlp.encode(body)
    await ws.send_bytes(rlp.encode([*body, key.sign(_digest(b"resp", transcript))]))
    auth = rlp.decode(await asyncio.wait_for(_receive_bytes(ws), HANDSHAKE_TIMEOUT))
    if len(auth) != 1 or not verify(remote_id, _digest(b"init", transcript), bytes(auth[0])):
        await ws.close(code=CLOSE_BAD_HANDSHAKE, message=b"bad handshake signature")
        raise HandshakeError("dialer's handshake signature is invalid")
    d2l, l2d = _session_keys(eph, remote_eph, transcript)
    return Session(ws, remote_id, False, nacl.secret.SecretBox(l2d), nacl.secret.SecretBox(d2l))
