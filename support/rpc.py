"""A free loopback port, and waiting until a JSON-RPC endpoint answers (a node or anvil just started)."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import requests


def free_port() -> int:
    """A TCP port nobody listens on at this instant (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_rpc(
    url: str,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = 30,
    method: str = "eth_chainId",
) -> None:
    """Until ``url`` answers ``method``; ``RuntimeError`` once ``process`` died or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.trust_env = False
    while True:
        try:
            session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []}, timeout=2)
            return
        except requests.RequestException:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the process behind {url} exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"no JSON-RPC answer at {url} after {timeout} s") from None
            time.sleep(0.05)
