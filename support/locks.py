"""An exclusive lock on a file, for work done once per machine (npm installs) by parallel test workers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, even if the holder is killed
        yield


class NpmMissing(RuntimeError):
    """npm (or node) is not installed."""


def npm_installed(prefix: Path, package: str, installed: Path) -> Path:
    """``installed`` (a path inside ``prefix``), after ``npm install package`` into ``prefix`` if it is missing;
    once per machine under a lock (parallel workers: one installs, the others wait), with npm's HOME inside
    ``prefix`` so that nothing is left elsewhere. :class:`NpmMissing` without npm and node."""
    with file_lock(prefix.with_suffix(".lock")):
        if not installed.exists():
            npm = shutil.which("npm")
            if npm is None or shutil.which("node") is None:
                raise NpmMissing(f"npm and node are needed to install {package}")
            prefix.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix), package],
                check=True,
                timeout=600,
                env={**os.environ, "HOME": str(prefix)},
            )
    return installed
