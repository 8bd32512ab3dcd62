"""contracts/modules/webauthn.vy: a passkey's assertion checked on chain (issue 17 item 2, the contract's part).

Assertions are built as an authenticator and a browser build them (W3C WebAuthn: authenticator data, client
data JSON, an ECDSA P-256 signature over ``authenticatorData || sha256(clientDataJSON)``); the P256VERIFY
precompile inside titanoboa's EVM is the node's own (``pamchain.node.chain.p256``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boa
import pytest
from boa.vm.py_evm import deregister_raw_precompile, register_raw_precompile
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from pamchain.contracts import source_dir
from pamchain.node.chain.p256 import ADDRESS, N, p256verify

RP_ID = "pam.example.com"
RP_HASH = hashlib.sha256(RP_ID.encode()).digest()
UP, UV = 0x01, 0x04


@pytest.fixture(scope="module")
def webauthn() -> Iterator[Any]:
    register_raw_precompile(ADDRESS, p256verify, force=True)
    try:
        yield boa.load(str(source_dir() / "modules" / "webauthn.vy"))
    finally:
        deregister_raw_precompile(ADDRESS)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(
    challenge: bytes,
    key: ec.EllipticCurvePrivateKey,
    *,
    flags: int = UP | UV,
    rp_hash: bytes = RP_HASH,
    kind: str = "webauthn.get",
    signed_challenge: bytes | None = None,
    origin: str = "https://pam.example.com",
) -> tuple[tuple[Any, ...], tuple[int, int]]:
    """(Assertion, PublicKey) as the contract takes them."""
    auth = rp_hash + bytes([flags]) + (7).to_bytes(4, "big")
    client = json.dumps(
        {
            "type": kind,
            "challenge": b64url(signed_challenge or challenge),
            "origin": origin,
            "crossOrigin": False,
        },
        separators=(",", ":"),
    ).encode()
    r, s = decode_dss_signature(key.sign(auth + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256())))
    point = key.public_key().public_numbers()
    return (auth, client, client.find(b'"type"'), client.find(b'"challenge"'), r, s), (point.x, point.y)


def check(
    webauthn: Any, challenge: bytes, shaped: tuple[Any, ...], key: tuple[int, int], uv: bool = True
) -> bool:
    return bool(webauthn.verify_assertion(challenge, shaped, key, RP_HASH, uv))


CHALLENGE = hashlib.sha256(b"approve request 7 on chain 1337").digest()


def test_assertion__as_a_browser_makes_it__verified(webauthn: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, public = assertion(CHALLENGE, key)
    assert check(webauthn, CHALLENGE, shaped, public)


@settings(max_examples=25, deadline=None)
@given(challenge=st.binary(min_size=32, max_size=32))
def test_assertion__any_challenge__encoded_like_the_browser_and_verified(
    webauthn: Any, challenge: bytes
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, public = assertion(challenge, key)
    assert check(webauthn, challenge, shaped, public)


def test_assertion__replayed_for_another_challenge__refused(webauthn: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, public = assertion(CHALLENGE, key)
    other = hashlib.sha256(b"approve request 8 on chain 1337").digest()
    assert not check(webauthn, other, shaped, public)


def test_assertion__signed_by_another_authenticator__refused(webauthn: Any) -> None:
    shaped, _ = assertion(CHALLENGE, ec.generate_private_key(ec.SECP256R1()))
    _, someone_else = assertion(CHALLENGE, ec.generate_private_key(ec.SECP256R1()))
    assert not check(webauthn, CHALLENGE, shaped, someone_else)


@pytest.mark.parametrize(
    ("options", "uv", "accepted"),
    [
        pytest.param({"flags": UV}, False, False, id="no user presence"),
        pytest.param({"flags": UP}, True, False, id="no user verification, required"),
        pytest.param({"flags": UP}, False, True, id="no user verification, not required"),
        pytest.param(
            {"rp_hash": hashlib.sha256(b"evil.example").digest()}, True, False, id="other relying party"
        ),
        pytest.param({"kind": "webauthn.create"}, True, False, id="a registration, not an assertion"),
        pytest.param({"signed_challenge": b"\x01" * 32}, True, False, id="client data for another challenge"),
    ],
)
def test_assertion__relying_party_checks(
    webauthn: Any, options: dict[str, Any], uv: bool, accepted: bool
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, public = assertion(CHALLENGE, key, **options)
    assert check(webauthn, CHALLENGE, shaped, public, uv) is accepted


def test_assertion__tampered_client_data__refused(webauthn: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (auth, client, t, c, r, s), public = assertion(CHALLENGE, key)
    tampered = client.replace(b"https://pam.example.com", b"https://pam.evil.com.xx")
    assert len(tampered) == len(client)
    assert not check(webauthn, CHALLENGE, (auth, tampered, t, c, r, s), public)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda a: (a[0][:36], *a[1:]), id="authenticator data too short"),
        pytest.param(lambda a: (a[0], a[1], len(a[1]), *a[3:]), id="type index at the end"),
        pytest.param(lambda a: (a[0], a[1], 2**255, *a[3:]), id="type index huge"),
        pytest.param(lambda a: (*a[:3], len(a[1]) - 10, *a[4:]), id="challenge index near the end"),
        pytest.param(lambda a: (*a[:3], a[3] + 1, *a[4:]), id="challenge index off by one"),
        pytest.param(lambda a: (*a[:4], 0, a[5]), id="r = 0"),
        pytest.param(lambda a: (*a[:5], N), id="s = n"),
    ],
)
def test_assertion__malformed__false_never_a_revert(webauthn: Any, mutate: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, public = assertion(CHALLENGE, key)
    assert not check(webauthn, CHALLENGE, mutate(shaped), public)


def test_assertion__key_off_the_curve__refused(webauthn: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    shaped, (x, y) = assertion(CHALLENGE, key)
    assert not check(webauthn, CHALLENGE, shaped, (x, y ^ 1))
