"""Node identity: a secp256k1 node key, its public id and the ``pamchain://<pubkey hex>@host:port`` address."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from eth_keys import keys
from eth_keys.datatypes import PrivateKey

from ..errors import NodeError

SCHEME = "pamchain"
NODE_KEY_FILE = "nodekey"


@dataclass(frozen=True)
class NodeKey:
    """The key a node proves its identity with in every handshake (not the Clique signer key)."""

    private: PrivateKey

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(keys.PrivateKey(os.urandom(32)))

    @classmethod
    def from_hex(cls, text: str) -> NodeKey:
        try:
            return cls(keys.PrivateKey(bytes.fromhex(text.strip().removeprefix("0x"))))
        except (ValueError, TypeError) as exc:
            raise NodeError(f"invalid node key: {exc}") from exc

    @property
    def node_id(self) -> bytes:
        """64-byte uncompressed public key without the 0x04 prefix (as devp2p's enode ids)."""
        return bytes(self.private.public_key.to_bytes())

    def sign(self, digest: bytes) -> bytes:
        return bytes(self.private.sign_msg_hash(digest).to_bytes())


def verify(node_id: bytes, digest: bytes, signature: bytes) -> bool:
    try:
        recovered = keys.Signature(signature).recover_public_key_from_msg_hash(digest)
    except Exception:
        return False
    return bytes(recovered.to_bytes()) == node_id


@dataclass(frozen=True)
class Enode:
    """A peer address: ``pamchain://<128 hex chars of the public key>@host:port``."""

    node_id: bytes
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Enode:
        parts = urlsplit(text.strip())
        if parts.scheme != SCHEME or not parts.username or not parts.hostname or not parts.port:
            raise NodeError(f"not a node address (want {SCHEME}://<pubkey hex>@host:port): {text!r}")
        try:
            node_id = bytes.fromhex(parts.username)
        except ValueError:
            raise NodeError(f"node id is not hex: {text!r}") from None
        if len(node_id) != 64:
            raise NodeError(f"node id must be a 64-byte public key: {text!r}")
        return cls(node_id, parts.hostname, parts.port)

    def __str__(self) -> str:
        return f"{SCHEME}://{self.node_id.hex()}@{self.host}:{self.port}"


def parse_node_id(text: str) -> bytes:
    """An allowlist entry: a full address or just the public key in hex."""
    text = text.strip()
    if text.startswith(SCHEME + "://"):
        return Enode.parse(text).node_id
    try:
        node_id = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise NodeError(f"not a node id: {text!r}") from None
    if len(node_id) != 64:
        raise NodeError(f"node id must be a 64-byte public key: {text!r}")
    return node_id


def load_or_create_node_key(path: str | Path) -> NodeKey:
    """Read a hex node key file, creating it (mode 0600) on first start, as geth does with ``nodekey``."""
    target = Path(path)
    if target.exists():
        return NodeKey.from_hex(target.read_text())
    key = NodeKey.generate()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as sink:
        sink.write(key.private.to_hex().removeprefix("0x") + "\n")
    return key
