"""Reading a file someone handed us (configuration, keystore, deployment), with one clear error for a missing or
malformed file: the error names the file and never echoes its content."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pamchain.sdk.errors import ConfigError


def read_bytes(path: str | os.PathLike[str], what: str, error: type[Exception] = ConfigError) -> bytes:
    """The content of a small file (a secret, a key); a missing or unreadable one is ``error`` naming ``what``
    and the path."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc


def read_text(path: str | os.PathLike[str], what: str, error: type[Exception] = ConfigError) -> str:
    """The content of a small UTF-8 text file; a missing, unreadable or non-UTF-8 one is ``error``."""
    try:
        return read_bytes(path, what, error).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text") from exc


def read_json(path: str | os.PathLike[str], what: str, error: type[Exception] = ConfigError) -> Any:
    """A JSON file's decoded content; unreadable or not JSON is ``error`` (the caller checks the shape)."""
    text = read_text(path, what, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON (corrupt or another format)") from exc


def read_toml(
    path: str | os.PathLike[str], what: str, error: type[Exception] = ConfigError
) -> tuple[dict[str, Any], Path]:
    """The decoded file and the folder its relative paths are resolved against; ``error`` (the calling
    package's configuration error) says what failed, naming the file, never echoing its content."""
    import tomllib  # only configuration files are TOML: read-only commands never pay for the parser

    file = Path(path)
    text = read_text(file, what, error)
    try:
        return tomllib.loads(text), file.parent
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file} is not valid TOML: {exc}") from exc
