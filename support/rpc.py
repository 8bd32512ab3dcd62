"""A free loopback port, and waiting until a JSON-RPC endpoint answers (a node or anvil just started)."""

from __future__ import annotations

import itertools
import random
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
from pamchain.devnet import claims

_LOWEST = 10000  # below: well-known and registered services


def free_port() -> int:
    """A loopback TCP port for a server this process starts soon after, reserved for this process while it
    lives: never handed to another process that asks here, nor to one of this process's earlier callers (two
    nodes of a cluster given one port had one node's peers dial the other's RPC server), and a restart on it
    finds it still free.

    The port comes from outside the kernel's ephemeral range, which bind(0) and every outgoing connection draw
    from, and is claimed (``pamchain.devnet.claims``) the way other test processes (xdist workers, a benchmark
    beside the suite) claim theirs. With bind(0) alone, two xdist workers were once given one port and a
    test talked to the other worker's node."""
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    first, end = port_range(low, high)
    start = random.randrange(first, end)  # processes starting together look in different places
    port = reserve(itertools.chain(range(start, end), range(first, start)))
    if port is None:
        raise RuntimeError(f"no free port left in {first}-{end - 1}")
    return port


def port_range(low: int, high: int) -> tuple[int, int]:
    """Where ``free_port`` looks, ``[first, end)``, given the kernel's ephemeral range ``low``-``high``: the
    larger span outside it, from 10000 up; where the ephemeral range leaves fewer than 4,096 ports outside it,
    everything from 10000 up (the locks still keep test processes apart)."""
    below, above = (_LOWEST, low), (max(high + 1, _LOWEST), 65536)
    wider = max(below, above, key=lambda span: span[1] - span[0])
    return wider if wider[1] - wider[0] >= 4096 else (_LOWEST, 65536)


def reserve(candidates: Iterable[int]) -> int | None:
    """The first of ``candidates`` that no process claimed and nothing is bound to, now claimed for this
    process; ``None`` if there is none."""
    for port in candidates:
        if claims.PORTS.claim(port):
            if claims.port_free("127.0.0.1", port):
                return port
            claims.PORTS.release(port)
    return None


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
