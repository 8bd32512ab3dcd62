"""Lost-device codes: a phone signs, while it is still in hand, a request to suspend its own principal; a council
member turns the code into the suspension (only the council may suspend, so no contract change is needed)."""

from __future__ import annotations

import base64
import binascii
import re

from eth_account import Account
from eth_account.messages import encode_defunct
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import ZERO32, Principal, PrincipalStatus
from pamchain.sdk.errors import SdkError


class LostDeviceError(SdkError, ValueError):
    """A lost-device code is malformed, for another deployment, or its device acts for nobody (any more)."""


def lost_device_message(chain_id: int, contract: str) -> str:
    """What the device key signs (EIP-191), bound to one deployment (web/src/screens/lost.js)."""
    return f"pamchain-lost-device:v1:{chain_id}:{contract.lower()}"


def encode_code(signature: bytes) -> str:
    """The 65-byte signature as the phone shows it: base32, in dash-separated groups of four."""
    text = base64.b32encode(signature).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_code(code: str) -> bytes:
    """The signature in ``code``; case, spaces, dashes and 0/1 for O/I do not matter."""
    # Base32 has no 0 or 1: read them as the letters a person copying the code by hand meant.
    text = re.sub(r"[\s-]", "", code).upper().translate(str.maketrans("01", "OI"))
    try:
        signature = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise LostDeviceError("not a lost-device code: base32 letters A-Z and digits 2-7 only") from exc
    if len(signature) != 65:
        raise LostDeviceError(f"not a lost-device code: {len(signature)} bytes where a signature has 65")
    return signature


def device_of(code: str, chain_id: int, contract: str) -> str:
    """The device address that signed ``code`` for this deployment."""
    message = encode_defunct(text=lost_device_message(chain_id, contract))
    try:
        return str(Account.recover_message(message, signature=decode_code(code)))
    except LostDeviceError:
        raise
    except Exception as exc:  # eth_keys' BadSignature and friends: any unusable signature
        raise LostDeviceError(f"not a lost-device code: {exc}") from exc


def principal_of_code(client: PamClient, code: str) -> Principal:
    """The principal whose *current* device signed ``code``: a code from a device since rotated away (or from
    another deployment, which recovers to an unknown address) names nobody."""
    device = device_of(code, int(client.w3.eth.chain_id), client.address)
    directory_id = client.principal_of(device)
    if directory_id == ZERO32:
        raise LostDeviceError(
            f"this code was signed by {device}, which is not any principal's current device on this deployment"
        )
    principal = client.principal(directory_id)
    if principal.status is not PrincipalStatus.ACTIVE:
        raise LostDeviceError(f"0x{directory_id.hex()} is already {principal.status.name.lower()}")
    return principal
