"""A phone's passkey registration, as the council receives it: parsed, checked against the chain, then registered.

The phone creates a passkey (WebAuthn, P-256) for the app's domain and signs what the council needs - the
public key and the credential id, bound to the chain, PamChain and the principal - with its enrolled device key
(EIP-191). So whoever carries the file to the council cannot swap the key: the signature must recover to the
device PamChain maps to that principal, and the relying party must be the one PamFactors checks assertions for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address
from pamchain.sdk.errors import PasskeyError

# The field prime and curve of P-256 (SEC 2, secp256r1): a registered key must be a point of the curve.
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]{16,1366}$")
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
KIND = "pamchain-passkey"


@dataclass(frozen=True, slots=True)
class PasskeyRegistration:
    """What a phone hands the council: its passkey's public key, for its principal, signed by its device key."""

    chain_id: int
    contract: str
    device: str
    directory_id: bytes
    rp_id: str
    credential_id: str  # base64url, as WebAuthn names it; kept by the phone, shown here for the record
    x: int
    y: int
    signature: bytes

    def message(self) -> str:
        """The text the device key signs (web/src/passkey.js registrationMessage builds the same)."""
        return registration_message(
            self.chain_id, self.contract, self.directory_id, self.rp_id, self.credential_id, self.x, self.y
        )

    def signer(self) -> str:
        """The address whose key signed the registration."""
        try:
            return str(Account.recover_message(encode_defunct(text=self.message()), signature=self.signature))
        except Exception as exc:  # eth_keys' BadSignature and ValueError for malformed bytes
            raise PasskeyError(f"registration signature unreadable: {exc}") from exc


def registration_message(
    chain_id: int, contract: str, directory_id: bytes, rp_id: str, credential_id: str, x: int, y: int
) -> str:
    return (
        f"pamchain-passkey:v1:{chain_id}:{contract.lower()}:0x{directory_id.hex()}:{rp_id}:{credential_id}:"
        f"0x{x:064x}:0x{y:064x}"
    )


def on_curve(x: int, y: int) -> bool:
    """Whether (x, y) is a point of P-256 (not the point at infinity)."""
    return 0 < x < _P and 0 <= y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def parse_registration(text: str) -> PasskeyRegistration:
    """The registration JSON the phone exports; :class:`PasskeyError` says what is wrong with it."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise PasskeyError(f"not a passkey registration (not JSON: {exc})") from exc
    if not isinstance(data, dict) or data.get("kind") != KIND or data.get("v") != 1:
        raise PasskeyError(f'not a passkey registration (want "kind": "{KIND}", "v": 1)')
    try:
        device, contract = str(data["device"]), str(data["contract"])
        directory_id, rp_id, credential_id = (
            str(data["directory_id"]),
            str(data["rp_id"]),
            str(data["credential_id"]),
        )
        x, y, signature = str(data["x"]), str(data["y"]), str(data["signature"])
        chain_id = int(data["chain_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(f"passkey registration: missing or bad field {exc}") from exc
    if not (is_address(device) and is_address(contract)):
        raise PasskeyError("passkey registration: device and contract must be addresses")
    if not all(_HEX32.match(v) for v in (directory_id, x, y)):
        raise PasskeyError("passkey registration: directory_id, x and y must be 0x + 64 hex digits")
    if not _BASE64URL.match(credential_id):
        raise PasskeyError("passkey registration: credential_id must be base64url")
    if not rp_id or len(rp_id) > 253 or not re.match(r"^[a-z0-9.-]+$", rp_id):
        raise PasskeyError("passkey registration: rp_id must be a domain name")
    try:
        raw_signature = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError as exc:
        raise PasskeyError("passkey registration: signature must be hex") from exc
    registration = PasskeyRegistration(
        chain_id=chain_id,
        contract=to_checksum_address(contract),
        device=to_checksum_address(device),
        directory_id=bytes.fromhex(directory_id[2:]),
        rp_id=rp_id,
        credential_id=credential_id,
        x=int(x, 16),
        y=int(y, 16),
        signature=raw_signature,
    )
    if not on_curve(registration.x, registration.y):
        raise PasskeyError("passkey registration: the public key is not a P-256 point")
    # A credential id is opaque but base64url of at least 16 bytes (WebAuthn's minimum of randomness).
    if len(base64.urlsafe_b64decode(credential_id + "=" * (-len(credential_id) % 4))) < 16:
        raise PasskeyError("passkey registration: credential_id shorter than 16 bytes")
    return registration


def check_registration(registration: PasskeyRegistration, client: Any) -> None:
    """Refuse a registration the chain would not stand behind: another chain or deployment, a signature not by
    the principal's current device, a suspended or unknown principal, or a relying party PamFactors does not
    check assertions for (the phone's passkey would never verify)."""
    from pamchain.sdk.chain.model import PrincipalStatus

    chain_id = int(client.w3.eth.chain_id)
    if registration.chain_id != chain_id or registration.contract != client.address:
        raise PasskeyError(
            f"registration is for chain {registration.chain_id} / {registration.contract}, "
            f"not this deployment (chain {chain_id} / {client.address})"
        )
    signer = registration.signer()
    if signer != registration.device:
        raise PasskeyError(
            f"registration signed by {signer}, not by the device it names ({registration.device})"
        )
    found = client.principal(registration.directory_id)
    if found.status is not PrincipalStatus.ACTIVE:
        raise PasskeyError(
            f"0x{registration.directory_id.hex()} is not an active principal ({found.status.name})"
        )
    if found.device != registration.device:
        raise PasskeyError(
            f"{registration.device} is not 0x{registration.directory_id.hex()}'s device ({found.device} is): "
            "enrol the phone first"
        )
    factors = client.factors_contract
    if factors is None:
        raise PasskeyError("this deployment has no PamFactors: passkeys are not checked on chain")
    wanted = bytes(factors.functions.rp_id_hash().call())
    if hashlib.sha256(registration.rp_id.encode()).digest() != wanted:
        raise PasskeyError(
            f"the passkey is for {registration.rp_id!r}, but PamFactors checks assertions for another relying "
            "party (set_relying_party): serve the phone app at that domain"
        )


__all__ = [
    "KIND",
    "PasskeyRegistration",
    "check_registration",
    "on_curve",
    "parse_registration",
    "registration_message",
]
