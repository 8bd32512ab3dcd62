"""Device and service keys as standard encrypted keystore files (Web3 Secret Storage, scrypt)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from zxcvbn import zxcvbn

from .errors import KeystoreError

PASSPHRASE_ENV = "PAMCHAIN_PASSWORD"


def read_passphrase(*, file: str | os.PathLike[str] | None = None, env: str = PASSPHRASE_ENV) -> str | None:
    """A passphrase from a file (first line) or the environment; None when neither is given.

    Never from a command-line argument: those leak through ``ps`` and shell history.
    """
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError) as exc:
            raise KeystoreError(f"cannot read passphrase file {file}") from exc
    return os.environ.get(env)


MIN_PASSPHRASE_SCORE = 3  # zxcvbn: "safely unguessable", against an offline attack on the (scrypt) keystore


class WeakPassphrase(KeystoreError, ValueError):
    """A new keystore passphrase that a guessing attack would find; ``advice`` says how to make a better one."""

    def __init__(self, advice: str) -> None:
        super().__init__(f"passphrase too easy to guess: {advice}")
        self.advice = advice


def check_new_passphrase(passphrase: str, *, context: tuple[str, ...] = ()) -> None:
    """Refuse a new keystore passphrase that zxcvbn scores below ``MIN_PASSPHRASE_SCORE`` (never echoing it).

    ``context`` holds words an attacker knows (an address, a user name) that must not make it stronger.
    """
    result = zxcvbn(passphrase[:100], user_inputs=list(context))  # zxcvbn is slow on very long inputs
    if int(result["score"]) >= MIN_PASSPHRASE_SCORE:
        return
    feedback = result.get("feedback") or {}
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    advice = " ".join(h.strip() for h in hints if h and h.strip()) or "use four or more uncommon words."
    raise WeakPassphrase(advice)


def create_keystore(
    directory: str | os.PathLike[str],
    passphrase: str,
    *,
    private_key: bytes | None = None,
    iterations: int | None = None,
) -> tuple[Path, LocalAccount]:
    """Write a new (or imported) key as ``UTC--<address>.json`` with mode 0600; return its path and account."""
    account = Account.from_key(private_key) if private_key is not None else Account.create()
    data = Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=iterations)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"UTC--{account.address[2:].lower()}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return path, account


def keystore_address(path: str | os.PathLike[str]) -> str:
    """The address recorded in a keystore file, without decrypting it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return _checksum(data["address"])
    except (OSError, ValueError, KeyError) as exc:
        raise KeystoreError(f"{path} is not a keystore file") from exc


def _checksum(address: str) -> str:
    return to_checksum_address(address if address.startswith("0x") else "0x" + address)


def load_account(path: str | os.PathLike[str], passphrase: str) -> LocalAccount:
    """Decrypt a keystore file; a wrong passphrase is a :class:`KeystoreError`, never a traceback."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}") from exc
    try:
        key = Account.decrypt(data, passphrase)
    except ValueError as exc:
        raise KeystoreError(f"wrong passphrase for keystore {Path(path).name}") from exc
    return Account.from_key(key)
