"""Stopping `pamchain devnet` at any point of its life: SIGINT (Ctrl-C) or SIGTERM, however it was started,
and a part that dies under it. Every process and listening port the devnet had is gone within 5 s.

Exit codes (as a shell reads them): stopped by a signal before it was ready, 128 + the signal (130 for
SIGINT, 143 for SIGTERM) — it did not finish starting; stopped once ready, 0 — a running devnet ends that way;
a part that died, 1 with a one-line error. Never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import time
import urllib.request
from collections.abc import Iterator

import pytest

from .devnet_process import Devnet

STOP_WITHIN = 5.0
RPC_UP = "  node: "
STORIES = "-- alice mistypes"
READY = "Ctrl-C stops everything"


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """No PAMCHAIN_* from the caller; temp files in a folder the test can check is left empty (a short
    path: Samba's sockets live under it, and a socket path has at most 107 bytes)."""
    tmp = tempfile.mkdtemp(prefix="pamchain-signals-")
    yield {**{k: v for k, v in os.environ.items() if not k.startswith("PAMCHAIN_")}, "TMPDIR": tmp}
    shutil.rmtree(tmp, ignore_errors=True)


def _rpc_answers(output: str) -> None:
    url = re.search(r"  node: (http://\S+)", output).group(1)  # type: ignore[union-attr]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.loads(reply.read())["result"] == hex(1337)


@pytest.fixture
def devnets() -> Iterator[list[Devnet]]:
    started: list[Devnet] = []
    yield started
    for devnet in started:
        if devnet.process.poll() is None or any(devnet.leftovers()):
            devnet.kill()


ARGS = ["--port", "0", "--payload-port", "0", "--grant-seconds", "2"]


@pytest.mark.parametrize(
    ("signum", "at", "sigint_ignored", "code"),
    [
        # The report: started from a script (SIGINT inherited ignored), Ctrl-C right after the node answers.
        (signal.SIGINT, RPC_UP, True, 130),
        (signal.SIGINT, STORIES, True, 130),
        (signal.SIGINT, READY, True, 0),
        (signal.SIGINT, RPC_UP, False, 130),  # a terminal's Ctrl-C
        (signal.SIGTERM, RPC_UP, False, 143),  # a supervisor's stop
        (signal.SIGTERM, STORIES, False, 143),
    ],
    ids=["int-rpc-from-script", "int-stories-from-script", "int-ready-from-script", "int-rpc", "term-rpc",
         "term-stories"],
)  # fmt: skip
def test_devnet__signal_at_any_point__every_process_and_port_gone_within_5_s(
    env: dict[str, str], devnets: list[Devnet], signum: int, at: str, sigint_ignored: bool, code: int
) -> None:
    devnet = Devnet(ARGS, env, sigint_ignored=sigint_ignored)
    devnets.append(devnet)
    output = devnet.until(at)
    if at == RPC_UP:
        _rpc_answers(output)
    sent = devnet.signal(signum)
    exit_code, output = devnet.wait_gone(sent, STOP_WITHIN)
    assert exit_code == code, output
    assert "Traceback" not in output, output
    assert output.rstrip().endswith("stopped; nothing left running."), output
    assert os.listdir(env["TMPDIR"]) == []  # the devnet's temp dir is removed too


samba = pytest.mark.skipif(not shutil.which("samba"), reason="needs Samba AD DC (bash .ci/install-samba.sh)")


@samba
def test_devnet_samba__sigterm_during_stories__the_dc_stops_too(
    env: dict[str, str], devnets: list[Devnet]
) -> None:
    devnet = Devnet([*ARGS, "--samba"], env)
    devnets.append(devnet)
    devnet.until(STORIES)
    assert len(devnet.pids) > 1  # the DC's processes are the devnet's children
    sent = devnet.signal(signal.SIGTERM)
    exit_code, output = devnet.wait_gone(sent, STOP_WITHIN)
    assert exit_code == 143, output
    assert "Traceback" not in output, output
    assert os.listdir(env["TMPDIR"]) == []


@samba
def test_devnet_samba__dc_dies_during_start_up__stops_at_once_with_one_line(
    env: dict[str, str], devnets: list[Devnet]
) -> None:
    devnet = Devnet([*ARGS, "--samba"], env)
    devnets.append(devnet)
    output = devnet.until(RPC_UP)
    dc = int(re.search(r"Samba AD DC at \S+ \(pid (\d+)\)", output).group(1))  # type: ignore[union-attr]
    devnet.snapshot()
    os.killpg(dc, signal.SIGKILL)
    sent = time.monotonic()
    exit_code, output = devnet.wait_gone(sent, STOP_WITHIN)
    assert exit_code == 1, output
    assert "Traceback" not in output, output
    assert re.search(r"error: the Samba AD DC \(pid \d+\) exited", output), output
