"""The one keystore module: standard v3 files (scrypt), created 0600 whole or not at all, one clear error each."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account
from pamchain.sdk.errors import KeystoreError, SdkError
from pamchain.sdk.keys import (
    WeakPassphrase,
    check_new_passphrase,
    create_keystore,
    keystore_address,
    load_account,
    load_key,
    read_passphrase,
    write_keystore,
)

PASSPHRASE = "quiet orange lantern harbour"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
FAST = 2  # scrypt N: tests only


@pytest.fixture
def keystore(tmp_path: Path) -> Path:
    return write_keystore(tmp_path / "key.json", KEY, PASSPHRASE, iterations=FAST)


def test_write_keystore__scrypt_v3_file_mode_0600_round_trips(keystore: Path) -> None:
    document = json.loads(keystore.read_text())
    assert document["version"] == 3 and document["crypto"]["kdf"] == "scrypt"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert load_key(keystore, PASSPHRASE) == KEY
    assert keystore_address(keystore) == Account.from_key(KEY).address
    assert [p.name for p in keystore.parent.iterdir()] == ["key.json"]  # no staging file left behind


def test_write_keystore__existing_file__never_overwritten(keystore: Path) -> None:
    before = keystore.read_bytes()
    with pytest.raises(FileExistsError):
        write_keystore(keystore, bytes(32 * [7]), "another passphrase entirely", iterations=FAST)
    assert keystore.read_bytes() == before
    assert [p.name for p in keystore.parent.iterdir()] == ["key.json"]


def test_create_keystore__named_by_address_in_a_private_folder(tmp_path: Path) -> None:
    path, account = create_keystore(tmp_path / "keys", PASSPHRASE, private_key=KEY, iterations=FAST)
    assert path.name == f"UTC--{account.address[2:].lower()}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_account(path, PASSPHRASE).address == account.address


def test_load_account__pbkdf2_keystore_of_other_tools__still_reads(tmp_path: Path) -> None:
    document = Account.encrypt(KEY, PASSPHRASE, kdf="pbkdf2", iterations=2)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    assert load_key(path, PASSPHRASE) == KEY


def test_load_account__wrong_passphrase__one_clear_error(keystore: Path) -> None:
    with pytest.raises(KeystoreError, match=r"^wrong passphrase for keystore key\.json$"):
        load_account(keystore, "not the passphrase")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is not valid JSON"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a v3 keystore file"),
        ('{"address": "00"}', "is not a v3 keystore file"),
        ('{"crypto": {"kdf": "scrypt"}, "version": 3}', "is not a v3 keystore file"),
    ],
)
def test_load_account__corrupt_file__keystore_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(KeystoreError, match=message):
        load_account(path, PASSPHRASE)


def test_load_account__tampered_ciphertext__refused(keystore: Path) -> None:
    document = json.loads(keystore.read_text())
    text = document["crypto"]["ciphertext"]
    document["crypto"]["ciphertext"] = ("0" if text[0] != "0" else "1") + text[1:]
    keystore.chmod(0o600)
    keystore.unlink()
    keystore.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        load_account(keystore, PASSPHRASE)


def test_load_account__missing_file__keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match=r"cannot read keystore .*nope\.json: No such file"):
        load_account(tmp_path / "nope.json", PASSPHRASE)


def test_keystore_address__not_a_keystore__keystore_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"crypto": {}, "address": "not hex"}')
    with pytest.raises(KeystoreError, match="records no valid address"):
        keystore_address(path)


def test_read_passphrase__first_line_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(f"{PASSPHRASE}\nignored\n")
    assert read_passphrase(file=path) == PASSPHRASE


@pytest.mark.parametrize("content", ["", "\n", "\nsecond line"])
def test_read_passphrase__empty_file__clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "pw"
    path.write_text(content)
    with pytest.raises(KeystoreError, match=r"passphrase file .* is empty"):
        read_passphrase(file=path)


def test_read_passphrase__missing_file__clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read passphrase file"):
        read_passphrase(file=tmp_path / "absent")


def test_read_passphrase__environment_only_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAMCHAIN_PASSWORD", "from the environment")
    assert read_passphrase() == "from the environment"
    monkeypatch.delenv("PAMCHAIN_PASSWORD")
    assert read_passphrase() is None


@pytest.mark.parametrize("phrase", ["x", "password123", "aaaaaaaaaaaaaaaa", "0x1234abcd"])
def test_check_new_passphrase__weak__refused_with_advice(phrase: str) -> None:
    with pytest.raises(WeakPassphrase) as raised:
        check_new_passphrase(phrase)
    assert raised.value.advice and phrase not in str(raised.value)
    assert isinstance(raised.value, KeystoreError) and isinstance(raised.value, SdkError)


def test_check_new_passphrase__known_context_does_not_count() -> None:
    check_new_passphrase(PASSPHRASE)
    address = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"  # long and random-looking, but known
    with pytest.raises(WeakPassphrase):
        check_new_passphrase(address, context=(address,))
