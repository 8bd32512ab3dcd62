"""Device, service and validator keys as standard encrypted keystore files (Web3 Secret Storage v3, scrypt).

The one keystore module of the product: the SDK, the CLI and the node's ``pamchain node run`` all read and write
keys here (the node itself only ever receives a decrypted key). It sits in the SDK, which imports nothing of
the node, so any layer may use it without a cycle.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pamchain.sdk.chain.abi import to_checksum_address
from pamchain.sdk.config_file import read_json, read_text
from pamchain.sdk.errors import KeystoreError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

PASSPHRASE_ENV = "PAMCHAIN_PASSWORD"

MIN_PASSPHRASE_SCORE = 3  # zxcvbn: "safely unguessable", against an offline attack on the (scrypt) keystore


class WeakPassphrase(KeystoreError):
    """A new keystore passphrase that a guessing attack would find; ``advice`` says how to make a better one."""

    def __init__(self, advice: str) -> None:
        super().__init__(f"passphrase too easy to guess: {advice}")
        self.advice = advice


def read_passphrase(*, file: str | os.PathLike[str] | None = None, env: str = PASSPHRASE_ENV) -> str | None:
    """A passphrase from a file (its first line) or the environment; None when neither is given.

    Never from a command-line argument: those leak through ``ps`` and shell history. An empty file (or an
    empty first line) is an error, not an empty passphrase: it is almost always a provisioning mistake, and
    an empty passphrase would leave the key readable by whoever copies the file.
    """
    if file is None:
        return os.environ.get(env)
    text = read_text(file, "passphrase file", KeystoreError)
    first = text.splitlines()[0] if text else ""
    if not first:
        raise KeystoreError(f"passphrase file {file} is empty: the passphrase is its first line")
    return first


def check_new_passphrase(passphrase: str, *, context: tuple[str, ...] = ()) -> None:
    """Refuse a new keystore passphrase that zxcvbn scores below ``MIN_PASSPHRASE_SCORE`` (never echoing it).

    ``context`` holds words an attacker knows (an address, a user name) that must not make it stronger.
    """
    from zxcvbn import zxcvbn  # its dictionaries take a while to load; only `keys new/import` need them

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
    """Write a new (or imported) key as ``<directory>/UTC--<address>.json``; return its path and account.

    A key already in the folder is a :class:`FileExistsError` (never overwritten).
    """
    from eth_account import Account  # ~0.6 s to import: not for `keys list`

    account = Account.from_key(private_key) if private_key is not None else Account.create()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"UTC--{account.address[2:].lower()}.json"
    write_keystore(path, bytes(account.key), passphrase, iterations=iterations)
    return path, account


def write_keystore(
    path: str | os.PathLike[str], private_key: bytes, passphrase: str, *, iterations: int | None = None
) -> Path:
    """Encrypt ``private_key`` (scrypt; ``iterations`` is its N, small only in tests) into a new file.

    The file is created with mode 0600 and appears whole or not at all (written aside, then linked into
    place); an existing file is a :class:`FileExistsError`, so a key is never overwritten.
    """
    from eth_account import Account  # ~0.6 s to import: not for `keys list`

    document = Account.encrypt(private_key, passphrase, kdf="scrypt", iterations=iterations)
    target = Path(path)
    fd, staging = tempfile.mkstemp(prefix=".keystore-", dir=target.parent)  # mode 0600 whatever the umask
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(staging, target)  # atomic, and fails rather than replace an existing key
    finally:
        os.unlink(staging)
    return target


def keystore_address(path: str | os.PathLike[str]) -> str:
    """The address recorded in a keystore file, without decrypting it."""
    document = _read_document(path)
    try:
        address = str(document["address"])
        return to_checksum_address(address if address.startswith("0x") else "0x" + address)
    except (KeyError, TypeError, ValueError) as exc:
        raise KeystoreError(f"{path} is not a keystore file: it records no valid address") from exc


def load_account(path: str | os.PathLike[str], passphrase: str) -> LocalAccount:
    """Decrypt a keystore file; every failure is a :class:`KeystoreError` with one clear line."""
    from eth_account import Account  # ~0.6 s to import: not for `keys list`

    document = _read_document(path)
    try:
        key = Account.decrypt(document, passphrase)
    except ValueError as exc:  # eth-keyfile: "MAC mismatch"; a tampered ciphertext looks the same
        raise KeystoreError(f"wrong passphrase for keystore {Path(path).name}") from exc
    except (KeyError, TypeError, AttributeError, NotImplementedError) as exc:
        raise KeystoreError(f"{path} is not a v3 keystore file (corrupt or another format)") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def load_key(path: str | os.PathLike[str], passphrase: str) -> bytes:
    """The 32-byte private key of a keystore file (for the node's sealer, which signs with raw keys)."""
    return bytes(load_account(path, passphrase).key)


def _read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    document = read_json(path, "keystore", KeystoreError)
    if not isinstance(document, dict) or "crypto" not in {k.lower() for k in document}:
        raise KeystoreError(f"{path} is not a v3 keystore file (corrupt or another format)")
    return document
