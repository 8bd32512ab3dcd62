"""Password payloads sealed to the oracle's X25519 key (NaCl sealed box); only their hash goes on chain.

The oracle's encryption key is derived from its Ethereum key (kept in an encrypted keystore), so the domain
controller holds one secret, not two. The plaintext binds the password to the requester's pseudonymous id:
a payload copied into someone else's request is refused by the oracle.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets

from eth_utils import keccak
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from pamchain.sdk.config_file import read_text
from pamchain.sdk.errors import ConfigError, SdkError

_KDF_LABEL = b"pamchain/oracle-x25519/v1"
MAX_PAYLOAD_BYTES = 4096


class PayloadError(SdkError, ValueError):
    """A sealed payload is malformed, was not sealed to this key, or belongs to another subject."""


def encryption_key(eth_private_key: bytes) -> PrivateKey:
    """The oracle's X25519 private key, derived from its Ethereum private key."""
    return PrivateKey(hashlib.sha256(_KDF_LABEL + bytes(eth_private_key)).digest())


def public_key(eth_private_key: bytes) -> bytes:
    """The 32-byte X25519 public key the council publishes on chain with ``set_oracle``."""
    return bytes(encryption_key(eth_private_key).public_key)


def payload_hash(ciphertext: bytes) -> bytes:
    """The content address of a sealed payload: what the password-reset request carries."""
    return keccak(ciphertext)


def seal_password(oracle_public_key: bytes, subject: bytes, password: str) -> bytes:
    """Encrypt ``password`` for the oracle, bound to the requester's directory id."""
    plaintext = json.dumps({"v": 1, "subject": subject.hex(), "password": password}).encode()
    ciphertext = SealedBox(PublicKey(bytes(oracle_public_key))).encrypt(plaintext)
    if len(ciphertext) > MAX_PAYLOAD_BYTES:
        raise PayloadError("password too long")
    return bytes(ciphertext)


def open_password(private_key: PrivateKey, ciphertext: bytes, subject: bytes) -> str:
    """Decrypt a payload and check it was sealed for ``subject``; never echoes the secret in errors."""
    try:
        plaintext = SealedBox(private_key).decrypt(bytes(ciphertext))
        data = json.loads(plaintext)
    except (CryptoError, ValueError) as exc:
        raise PayloadError("payload cannot be opened with this oracle's key") from exc
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("password"), str):
        raise PayloadError("payload has an unknown format")
    if data.get("subject") != subject.hex():
        raise PayloadError("payload was sealed for another subject")
    return str(data["password"])


def load_domain_secret(path: str | os.PathLike[str]) -> bytes:
    """A domain's shared X25519 secret (``encryption_key_file``: 64 hex digits), held by each of its oracles;
    ``encryption_key`` and ``public_key`` take it as they take an oracle's own key."""
    text = read_text(path, "encryption key file").strip()
    try:
        secret = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise ConfigError(f"{path}: an encryption key file holds 32 bytes as 64 hex digits")
    return secret


def create_domain_secret(path: str | os.PathLike[str]) -> bytes:
    """Write a new random domain secret to ``path`` (mode 0600; an existing file is never overwritten)."""
    secret = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists: a domain key is never overwritten") from None
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return secret
