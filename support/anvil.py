"""anvil, the peer of the benchmarks and a second chain backend of the integration tests, as a process.

anvil is installed once with npm into ``.cache/anvil`` (HOME pointed there, so npm's own cache stays inside
it too) and every anvil process runs with HOME inside the caller's temp dir: nothing is left elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from pamchain.devnet.processes import stop_process

from .locks import NpmMissing, npm_installed
from .rpc import free_port, wait_for_rpc

ROOT = Path(__file__).resolve().parents[1]
ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64@1.7.1"
ANVIL_CACHE = ROOT / ".cache" / "anvil"


def anvil_binary() -> Path:
    """anvil from npm, installed once into the repository's .cache (never a global install)."""
    binary = ANVIL_CACHE / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    try:
        return npm_installed(ANVIL_CACHE, ANVIL_PACKAGE, binary)
    except NpmMissing as exc:
        raise RuntimeError(f"{exc} (anvil is the peer of the benchmarks and integration tests)") from exc


def anvil_version() -> str:
    out = subprocess.run([str(anvil_binary()), "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip().splitlines()[0] if out.stdout else "unknown"


@contextlib.contextmanager
def anvil_process(tmp: Path, args: Sequence[str] = ()) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """An anvil process with HOME under ``tmp``; yields (url, process); stopped by pid."""
    home = tmp / "anvil-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--silent", *args],
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, process)
        yield url, process
    finally:
        stop_process(process)
