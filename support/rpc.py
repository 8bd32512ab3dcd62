"""A free loopback port, and waiting until a JSON-RPC endpoint answers (a node or anvil just started)."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import requests

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port nobody listens on at this instant (the caller binds it soon after), and never one this process
    handed out before: the kernel may offer a just-closed port again, and two nodes of a cluster given the same
    one had one node's peers dial the other's RPC server."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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
