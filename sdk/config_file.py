"""Reading a service's TOML configuration file, with one clear error for a missing or malformed file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError


def read_toml(
    path: str | os.PathLike[str], what: str, error: type[Exception] = ConfigError
) -> tuple[dict[str, Any], Path]:
    """The decoded file and the folder its relative paths are resolved against; ``error`` (the calling
    package's configuration error) says what failed, naming the file, never echoing its content."""
    file = Path(path)
    try:
        return tomllib.loads(file.read_text(encoding="utf-8")), file.parent
    except OSError as exc:
        raise error(f"cannot read {what} {file}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{file} is not valid TOML: {exc}") from exc
