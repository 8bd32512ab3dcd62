"""``support.rpc.free_port``: a port handed to one test process is never handed to another, nor taken by the
kernel for somebody's outgoing connection, while that process lives.

CI's clean-clone run failed once (stop 29): a module's node in one xdist worker was given the port another
worker's node already served on. Its fixture's first transaction reached the other node, whose allowlist
did not hold the sender, and nine tests failed at setup with "account not allowed".
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pamchain.devnet.claims import Claims

from support import rpc

ROOT = Path(__file__).resolve().parents[1]
TAKE = 400  # ports each process takes: with the kernel's bind(0) three such sets met ~17 times on average


def _take_in_other_process(count: int) -> tuple[subprocess.Popen[str], set[int]]:
    """A child that takes ``count`` ports, prints them, and holds them until its stdin closes."""
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom support.rpc import free_port\n"
         f"print(' '.join(str(free_port()) for _ in range({count})), flush=True)\nsys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    return child, {int(p) for p in child.stdout.readline().split()}


def _release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    assert child.wait(timeout=30) == 0


def test_free_port__three_processes__never_the_same_port() -> None:
    """Three processes each take ``TAKE`` ports, all holding them at once (children, so that the suite's
    worker does not keep hundreds of descriptors open)."""
    children: list[subprocess.Popen[str]] = []
    taken: list[set[int]] = []
    try:
        for _ in range(3):
            child, ports = _take_in_other_process(TAKE)
            children.append(child)
            taken.append(ports)
    finally:
        for child in children:
            _release(child)
    assert [len(ports) for ports in taken] == [TAKE] * 3
    assert len(set().union(*taken)) == 3 * TAKE


def test_free_port__outside_the_kernels_ephemeral_range() -> None:
    """bind(0) and connect() take their ports from the ephemeral range, so a port outside it cannot be taken
    by another program between ``free_port`` and the server binding it."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    first, end = rpc.port_range(low, high)
    ports = [rpc.free_port() for _ in range(50)]
    assert all(first <= p < end for p in ports), ports
    if end - first < 65536 - 10000:  # unless this machine leaves too little room outside (see below)
        assert all(p < low or p > high for p in ports), ports


@pytest.mark.parametrize(
    ("ephemeral", "span"),
    [
        ((32768, 60999), (10000, 32768)),  # Linux's default
        ((49152, 65535), (10000, 49152)),  # IANA's
        ((10000, 50000), (50001, 65536)),  # room above only
        ((1024, 65535), (10000, 65536)),  # no room outside: the locks alone
        ((15000, 63000), (10000, 15000)),
        ((13000, 63000), (10000, 65536)),  # too little room either side
    ],
)
def test_port_range__outside_the_ephemeral_range_where_there_is_room(
    ephemeral: tuple[int, int], span: tuple[int, int]
) -> None:
    assert rpc.port_range(*ephemeral) == span


def test_free_port__many_ports__one_descriptor() -> None:
    """A worker claims a port for each server it starts, dozens to hundreds in a run, and keeps them: the claims
    share one open descriptor, where one each would grow toward the process's descriptor limit."""
    rpc.free_port()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(100):
        rpc.free_port()
    assert len(os.listdir("/proc/self/fd")) == before


def test_free_port__a_server_binds_what_it_was_given() -> None:
    port = rpc.free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert server.getsockname()[1] == port


def test_reserve__skips_a_port_someone_listens_on() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free = rpc.free_port()
        assert rpc.reserve([taken, free]) is None  # ``free`` is already this process's
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            spare = probe.getsockname()[1]
        assert rpc.reserve([taken, spare]) == spare


def test_reserve__a_port_held_by_another_process__skipped() -> None:
    child, theirs = _take_in_other_process(1)
    try:
        (held,) = theirs
        assert rpc.reserve([held]) is None
    finally:
        _release(child)
    assert rpc.reserve([held]) == held  # its holder exited: the lock went with it


def _claimable_elsewhere(kind: str, n: int) -> bool:
    probe = (
        "import sys\nfrom pamchain.devnet.claims import Claims\n"
        f"sys.exit(0 if Claims({kind!r}).claim({n}) else 3)"
    )
    code = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, timeout=60).returncode
    assert code in (0, 3)
    return code == 0


def test_claims__released__another_process_may_claim() -> None:
    kind, n = "test-release", 4242
    mine = Claims(kind)
    assert mine.claim(n) and not mine.claim(n)
    assert not _claimable_elsewhere(kind, n)
    mine.release(n)
    assert _claimable_elsewhere(kind, n)
    assert mine.claim(n)
    mine.release(n)
