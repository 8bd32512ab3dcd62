"""The phone's justification envelope is the SDK's: what the phone seals (web/src/justification.js, run under
node) the SDK opens, and what the SDK seals the phone opens; a tampered or foreign envelope is refused by
both with a reason, never shown as garbage."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from pamchain.sdk.payloads.justification import (
    KeyAnnouncement,
    announce_key,
    device_encryption_key,
    device_public_key,
    open_justification,
    seal_justification,
    verify_key,
)
from pamchain.sdk.payloads.sealed import PayloadError

WEB = Path(__file__).resolve().parents[2] / "web"
BOB = Account.from_key(b"\x22" * 32)
ALICE = Account.from_key(b"\x11" * 32)
SUBJECT, TARGET = b"\xaa" * 32, b"\xbb" * 32
TEXT = "patch the DCs — été ✓ (CHG-1042)"


def phone(command: dict[str, Any]) -> Any:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "libsodium-wrappers").is_dir():
        pytest.skip("node and web/node_modules (npm ci in web/) are needed to run the phone's module")
    run = subprocess.run(
        [node, str(WEB / "scripts" / "justification.mjs")],
        input=json.dumps(command),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(run.stdout)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def test_sealed_on_the_phone__opened_by_the_sdk() -> None:
    sealed = phone(
        {
            "op": "seal",
            "recipients": [_hex(device_public_key(ALICE.key)), _hex(device_public_key(BOB.key))],
            "subject": _hex(SUBJECT),
            "target": _hex(TARGET),
            "text": TEXT,
        }
    )
    envelope, digest = bytes.fromhex(sealed["envelope"][2:]), bytes.fromhex(sealed["hash"][2:])
    for reader in (ALICE, BOB):
        opened = open_justification(device_encryption_key(reader.key), envelope, digest, SUBJECT, TARGET)
        assert opened.text == TEXT and opened.digest == digest
    stranger = Account.from_key(b"\x33" * 32)
    with pytest.raises(PayloadError, match="not sealed to this device"):
        open_justification(device_encryption_key(stranger.key), envelope, digest, SUBJECT, TARGET)


def _open_on_phone(key: bytes, envelope: bytes, digest: bytes, subject: bytes = SUBJECT) -> dict[str, str]:
    return phone(
        {
            "op": "open",
            "key": _hex(key),
            "envelope": _hex(envelope),
            "hash": _hex(digest),
            "subject": _hex(subject),
            "target": _hex(TARGET),
        }
    )


def test_sealed_by_the_sdk__opened_on_the_phone() -> None:
    envelope, digest = seal_justification(
        [device_public_key(ALICE.key), device_public_key(BOB.key)], SUBJECT, TARGET, TEXT
    )
    assert _open_on_phone(BOB.key, envelope, digest) == {"text": TEXT}


def test_phone__refuses_what_it_cannot_read__with_a_reason() -> None:
    envelope, digest = seal_justification([device_public_key(ALICE.key)], SUBJECT, TARGET, TEXT)
    assert _open_on_phone(BOB.key, envelope, digest) == {"unreadable": "notSealed"}
    tampered = bytearray(envelope)
    tampered[-3] ^= 0x01  # in the secretbox: its MAC fails
    assert _open_on_phone(ALICE.key, bytes(tampered), digest) == {"unreadable": "damaged"}
    assert _open_on_phone(ALICE.key, b"\x07" + envelope[1:], digest) == {"unreadable": "damaged"}
    assert _open_on_phone(ALICE.key, envelope, b"\x01" * 32) == {"unreadable": "mismatch"}
    assert _open_on_phone(ALICE.key, envelope, digest, subject=b"\xcc" * 32) == {"unreadable": "otherRequest"}


def test_key_announcement__the_phone_s_is_the_sdk_s() -> None:
    announced = phone({"op": "announce", "key": _hex(BOB.key), "chain_id": 1337})
    assert verify_key(KeyAnnouncement.from_json(announced), 1337, BOB.address) == device_public_key(BOB.key)
    assert KeyAnnouncement.from_json(announced) == announce_key(BOB, 1337)  # deterministic signature
    with pytest.raises(PayloadError):
        verify_key(KeyAnnouncement.from_json(announced), 1338, BOB.address)
