"""Justifications sealed to the request's eligible approvers; only a salted hash of the text goes on chain.

Construction (libsodium primitives only, nothing of our own):

* each device has an X25519 key derived from its Ethereum key, as the oracle's is (``sealed.encryption_key``,
  with a label of its own); the device publishes the public half in the payload store with an EIP-191
  signature by its Ethereum key (:func:`announce_key`), which every sender checks against the device the
  chain lists for the approver (:func:`verify_key`): the store cannot substitute a key;
* the envelope is the usual hybrid, multi-recipient one (as age or OpenPGP do): a fresh random 32-byte key
  encrypts the plaintext once with ``crypto_secretbox`` (XSalsa20-Poly1305), and that key is sealed to each
  recipient with ``crypto_box_seal`` (a sealed box: ephemeral X25519, anonymous sender);
* the plaintext carries a random 32-byte salt, and the request carries ``keccak(salt ‖ text)``: the text
  cannot be guessed from the chain, and every recipient checks the text it opened against that hash, so all
  of them read the same text (a sender cannot give two approvers two different stories);
* the plaintext binds the requester's directory id and the target, so an envelope copied into another
  request is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from pamchain.sdk.payloads.sealed import MAX_PAYLOAD_BYTES, PayloadError

_KDF_LABEL = b"pamchain/device-x25519/v1"
_VERSION = 1
_BOX = 32 + 48  # a sealed 32-byte key: ephemeral public key + MAC + key
MAX_JUSTIFICATION_BYTES = 1024  # UTF-8 bytes of text: the envelope for 17 recipients stays under 4 KiB
MAX_RECIPIENTS = 17  # 16 approvers and the requester


@dataclass(frozen=True, slots=True)
class Justification:
    """An opened justification: the text, and the salt that makes its on-chain hash unguessable."""

    text: str
    salt: bytes
    subject: bytes
    target: bytes

    @property
    def digest(self) -> bytes:
        return justification_hash(self.salt, self.text)


def justification_hash(salt: bytes, text: str) -> bytes:
    """What the request carries: ``keccak(salt ‖ utf8(text))`` (salt: 32 random bytes)."""
    if len(salt) != 32:
        raise ValueError("a justification salt is 32 bytes")
    return keccak(bytes(salt) + text.encode("utf-8"))


# -- device keys ------------------------------------------------------------------------------------------


def device_encryption_key(eth_private_key: bytes) -> PrivateKey:
    """A device's X25519 private key, derived from its Ethereum private key (one secret on the device)."""
    return PrivateKey(hashlib.sha256(_KDF_LABEL + bytes(eth_private_key)).digest())


def device_public_key(eth_private_key: bytes) -> bytes:
    return bytes(device_encryption_key(eth_private_key).public_key)


def key_message(chain_id: int, device: str, public_key: bytes) -> str:
    """The text a device signs to publish its encryption key (bound to the chain and the device)."""
    return f"pamchain-encryption-key:v1:{int(chain_id)}:{to_checksum_address(device)}:0x{bytes(public_key).hex()}"


@dataclass(frozen=True, slots=True)
class KeyAnnouncement:
    """A device's X25519 public key and its signature by the device's Ethereum key."""

    device: str
    public_key: bytes
    signature: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "device": self.device,
            "public_key": "0x" + self.public_key.hex(),
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: object) -> KeyAnnouncement:
        try:
            assert isinstance(data, dict)
            key = bytes.fromhex(str(data["public_key"]).removeprefix("0x"))
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            device = to_checksum_address(str(data["device"]))
        except (AssertionError, KeyError, ValueError) as exc:
            raise PayloadError("malformed key announcement") from exc
        if len(key) != 32 or len(signature) != 65:
            raise PayloadError("malformed key announcement")
        return cls(device, key, signature)


def announce_key(account: LocalAccount, chain_id: int) -> KeyAnnouncement:
    """This device's encryption key, signed for ``chain_id``."""
    public = device_public_key(account.key)
    signed = account.sign_message(encode_defunct(text=key_message(chain_id, account.address, public)))
    return KeyAnnouncement(account.address, public, bytes(signed.signature))


def verify_key(announcement: KeyAnnouncement, chain_id: int, device: str) -> bytes:
    """The public key if ``device`` signed it for ``chain_id``; :class:`PayloadError` otherwise."""
    text = key_message(chain_id, announcement.device, announcement.public_key)
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=announcement.signature)
    except Exception as exc:  # eth-account raises several types for a malformed signature
        raise PayloadError("bad signature on an encryption key") from exc
    if signer != to_checksum_address(device) or announcement.device != signer:
        raise PayloadError(f"the encryption key offered for {device} is not signed by it")
    return announcement.public_key


# -- envelopes --------------------------------------------------------------------------------------------


def seal_justification(
    recipients: Sequence[bytes], subject: bytes, target: bytes, text: str, *, salt: bytes | None = None
) -> tuple[bytes, bytes]:
    """Seal ``text`` to every X25519 public key in ``recipients``; returns (envelope, on-chain hash)."""
    if not text:
        raise ValueError("an empty justification is not sealed (send a zero hash instead)")
    if len(text.encode("utf-8")) > MAX_JUSTIFICATION_BYTES:
        raise ValueError(f"justification longer than {MAX_JUSTIFICATION_BYTES} bytes")
    keys = list(dict.fromkeys(bytes(k) for k in recipients))
    if not 1 <= len(keys) <= MAX_RECIPIENTS:
        raise ValueError(f"a justification is sealed to 1 to {MAX_RECIPIENTS} recipients, not {len(keys)}")
    salt = os.urandom(32) if salt is None else bytes(salt)
    plaintext = json.dumps(
        {"v": _VERSION, "subject": subject.hex(), "target": target.hex(), "salt": salt.hex(), "text": text}
    ).encode()
    content_key = os.urandom(SecretBox.KEY_SIZE)
    boxes = b"".join(bytes(SealedBox(PublicKey(k)).encrypt(content_key)) for k in keys)
    body = bytes(SecretBox(content_key).encrypt(plaintext))
    envelope = bytes([_VERSION, len(keys)]) + boxes + body
    if len(envelope) > MAX_PAYLOAD_BYTES:
        raise ValueError("justification too long for its recipients")
    return envelope, justification_hash(salt, text)


def open_justification(
    private_key: PrivateKey, envelope: bytes, expected_hash: bytes, subject: bytes, target: bytes
) -> Justification:
    """Open an envelope with one recipient's key and check it against the request that names it."""
    envelope = bytes(envelope)
    if len(envelope) < 2 or envelope[0] != _VERSION:
        raise PayloadError("justification has an unknown format")
    count = envelope[1]
    body = envelope[2 + count * _BOX :]
    content_key = None
    opener = SealedBox(private_key)
    for index in range(count):
        box = envelope[2 + index * _BOX : 2 + (index + 1) * _BOX]
        try:
            content_key = opener.decrypt(box)
            break
        except CryptoError:
            continue
    if content_key is None:
        raise PayloadError("this justification was not sealed to this device")
    try:
        data = json.loads(SecretBox(content_key).decrypt(body))
        found = Justification(
            str(data["text"]),
            bytes.fromhex(data["salt"]),
            bytes.fromhex(data["subject"]),
            bytes.fromhex(data["target"]),
        )
    except (CryptoError, ValueError, KeyError, TypeError) as exc:
        raise PayloadError("justification cannot be opened") from exc
    if data.get("v") != _VERSION or len(found.salt) != 32:
        raise PayloadError("justification has an unknown format")
    if found.digest != bytes(expected_hash):
        raise PayloadError("justification does not match the hash its request carries")
    if found.subject != bytes(subject) or found.target != bytes(target):
        raise PayloadError("justification was sealed for another request")
    return found
