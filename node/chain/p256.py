"""The secp256r1 (P-256) signature check of EIP-7951 (``P256VERIFY``, address ``0x100``, 6,900 gas).

EIP-7951 is Osaka's precompile for signatures made by secure hardware - passkeys, FIDO2/WebAuthn
authenticators, Secure Enclave, Android Keystore - and is what lets a contract check a WebAuthn assertion
itself. py-evm stops at Prague, so a pamchain genesis may add this one precompile to its Prague rules
(``config.pamchain.p256Verify``); every validator of a chain must agree on it, as on any consensus rule.

The verification is OpenSSL's ECDSA through ``cryptography`` (never our own curve arithmetic); the input
checks before it are EIP-7951's own: exactly 160 bytes ``hash ‖ r ‖ s ‖ qx ‖ qy``, ``0 < r, s < n``,
``qx, qy < p``, the point on the curve and not at infinity. Success returns 32 bytes ``…01``; any failure
returns nothing, and the gas is spent either way. High-s signatures are valid (no malleability rule), and
the hash is taken modulo ``n`` as ECDSA does.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

ADDRESS = (0x100).to_bytes(20, "big")
GAS = 6900
#: The curve's group order and field prime (SEC 2, secp256r1).
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
SUCCESS = (1).to_bytes(32, "big")


def verify(data: bytes) -> bool:
    """EIP-7951's ``P256Verify`` on the precompile's input."""
    if len(data) != 160:
        return False
    digest = data[:32]
    r, s, x, y = (int.from_bytes(data[i : i + 32], "big") for i in range(32, 160, 32))
    if not (0 < r < N and 0 < s < N and x < P and y < P) or (x == 0 and y == 0):
        return False
    try:
        key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:  # not on the curve
        return False
    try:
        key.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def p256verify(computation: Any) -> Any:
    """The precompile as py-evm calls it."""
    computation.consume_gas(GAS, reason="P256VERIFY precompile")
    computation.output = SUCCESS if verify(computation.msg.data_as_bytes) else b""
    return computation


def with_p256verify(vm_class: Any) -> Any:
    """``vm_class`` (Prague) with ``P256VERIFY`` among its precompiles (warm from the start, as all are)."""
    state_class = vm_class.get_state_class()
    computation_class = state_class.computation_class
    precompiles = {**computation_class._precompiles, ADDRESS: p256verify}
    computation = computation_class.configure(__name__=computation_class.__name__, _precompiles=precompiles)
    state = state_class.configure(__name__=state_class.__name__, computation_class=computation)
    return vm_class.configure(__name__=vm_class.__name__, _state_class=state)
