"""Signer keys from standard encrypted keystore files (never from the command line)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import eth_keyfile

from .errors import KeystoreError

PASSWORD_ENV = "PAMCHAIN_PASSWORD"


def read_password(password_file: str | Path | None, prompt: Callable[[], str] | None = None) -> str:
    """The keystore password from a file (first line), else ``$PAMCHAIN_PASSWORD``, else ``prompt()``."""
    if password_file is not None:
        try:
            return Path(password_file).read_text().splitlines()[0] if Path(password_file).read_text() else ""
        except OSError as exc:
            raise KeystoreError(f"cannot read password file {password_file}: {exc.strerror}") from exc
    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    if prompt is None:
        raise KeystoreError(f"no password: pass --password-file or set {PASSWORD_ENV}")
    return prompt()


def load_keystore(path: str | Path, password: str) -> bytes:
    """Decrypt an Ethereum keystore (v3) file; returns the 32-byte private key."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise KeystoreError(f"keystore {path} is not JSON") from exc
    try:
        return bytes(eth_keyfile.decode_keyfile_json(doc, password.encode()))
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt keystore {path}: wrong password or corrupt file") from exc
    except (KeyError, TypeError) as exc:
        raise KeystoreError(f"keystore {path} is not a v3 keystore") from exc


def write_keystore(path: str | Path, private_key: bytes, password: str, iterations: int | None = None) -> None:
    """Encrypt ``private_key`` into a keystore file (tests and ``node account new``-style tooling)."""
    kwargs = {"iterations": iterations} if iterations is not None else {}
    doc = eth_keyfile.create_keyfile_json(private_key, password.encode(), **kwargs)
    target = Path(path)
    target.write_text(json.dumps(doc))
    target.chmod(0o600)
