"""pamchain's node as its own ``python -m pamchain.node`` process: its files (data dir, genesis, the signer's
keystore), and the one way to start it, wait until it answers and stop it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pamchain.devnet.processes import stop_process
from pamchain.sdk.keys import write_keystore

from .rpc import free_port, wait_for_rpc

NODE = [sys.executable, "-m", "pamchain.node"]
PASSWORD = "node process"


@dataclass(frozen=True)
class NodeFiles:
    """What ``pamchain.node run`` reads: a data dir, the signer's keystore and its password file."""

    datadir: Path
    keystore: Path
    password_file: Path

    def run_command(self, rpc_port: int, args: Sequence[str] = ()) -> list[str]:
        return [
            *NODE, "run", "--datadir", str(self.datadir), "--keystore", str(self.keystore),
            "--password-file", str(self.password_file), "--rpc-port", str(rpc_port), *args,
        ]  # fmt: skip


def signer_files(root: Path, datadir: Path, signer_key: bytes, password: str = PASSWORD) -> NodeFiles:
    """The signer's keystore (cheap KDF: a test key) and password file under ``root``, for ``datadir``; a
    restart reuses the keystore of the first start (keystores are never overwritten)."""
    root.mkdir(parents=True, exist_ok=True)
    keystore, password_file = root / "signer.json", root / "password"
    if not keystore.exists():
        write_keystore(keystore, signer_key, password, iterations=2)
    password_file.write_text(password + "\n")
    return NodeFiles(datadir, keystore, password_file)


def init_node(
    root: Path,
    genesis: Mapping[str, Any],
    signer_key: bytes,
    *,
    password: str = PASSWORD,
    datadir: str = "data",
) -> NodeFiles:
    """Write ``genesis`` and the signer's files under ``root`` and ``pamchain.node init`` a data dir there."""
    files = signer_files(root, root / datadir, signer_key, password)
    genesis_file = root / "genesis.json"
    genesis_file.write_text(json.dumps(genesis))
    done = subprocess.run(
        [*NODE, "init", "--datadir", str(files.datadir), "--genesis", str(genesis_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pamchain.node init failed: {done.stderr[-2000:]}")
    return files


def start_node(
    files: NodeFiles, rpc_port: int, args: Sequence[str] = (), *, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start the node (output appended to ``log``, else discarded); does not wait for it."""
    sink = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            files.run_command(rpc_port, args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        if not isinstance(sink, int):
            sink.close()


@contextlib.contextmanager
def node_process(
    files: NodeFiles,
    args: Sequence[str] = (),
    *,
    log: Path | None = None,
    timeout: float = 60,
    grace: float = 20,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The node on a free port, once it answers JSON-RPC; yields (url, process); stopped (SIGTERM, then
    SIGKILL after ``grace`` seconds) on exit."""
    port = free_port()
    process = start_node(files, port, args, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_rpc(url, process, timeout)
        except RuntimeError as exc:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{exc}\n{tail}") from None
        yield url, process
    finally:
        stop_process(process, grace=grace)


@dataclass
class NodeProcess:
    """A node process on a port chosen once, so a restart keeps its URL (and its WebSocket's)."""

    files: NodeFiles
    args: Sequence[str] = ("--seal-on-demand",)
    log: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.process = start_node(self.files, self.port, self.args, log=self.log)
        wait_for_rpc(self.url, self.process, timeout)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM (the node drains), SIGKILL after ``grace`` seconds; 0: SIGKILL at once."""
        if self.process is not None:
            stop_process(self.process, grace=grace)
            self.process = None
