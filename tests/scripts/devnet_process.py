"""`pamchain devnet` as a real process, watched from outside: its output lines, and every process and
listening socket it ever had, read from /proc (not from the devnet's own bookkeeping)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from pamchain.devnet.processes import alive, descendants

PAMCHAIN = str(Path(sys.executable).with_name("pamchain"))


class Lines:
    """The process's output lines, read on a thread (select() on a buffered pipe misses buffered lines)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._pump, args=(process,), daemon=True)
        self.thread.start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def until(self, marker: str, timeout: float) -> str:
        """Everything printed so far, once a line contains ``marker``."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if marker in line:
                return "".join(self.seen)
        raise AssertionError(f"no {marker!r} within {timeout} s; output so far:\n{''.join(self.seen)}")

    def rest(self, timeout: float) -> str:
        self.thread.join(timeout)
        while not self.queue.empty():
            line = self.queue.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)


def tree(root: int) -> set[int]:
    """``root`` (while it runs) and every live descendant, as the devnet's own helpers see processes."""
    return ({root} if alive(root) else set()) | set(descendants(root))


def _listening() -> dict[int, str]:
    """Socket inode -> "ip:port" for every TCP socket listening on this machine."""
    out: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A":  # LISTEN
                address, port = cols[1].split(":")
                out[int(cols[9])] = f"{address}:{int(port, 16)}"
    return out


def sockets_of(pids: set[int]) -> set[int]:
    """Inodes of the sockets the given processes hold open."""
    inodes = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


class Devnet:
    """A ``pamchain devnet`` process; remembers every process and listening port of its tree until it exits."""

    def __init__(self, args: Sequence[str], env: dict[str, str], *, sigint_ignored: bool = False) -> None:
        command = [PAMCHAIN, "devnet", *args]
        if sigint_ignored:
            # As a shell script or `make devnet &` starts it: a background job inherits SIGINT ignored.
            command = ["sh", "-c", "trap '' INT; exec \"$@\"", "sh", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines = Lines(self.process)
        self.pids: set[int] = set()
        self.ports: dict[int, str] = {}  # listening socket inode -> ip:port
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._done.is_set() and self.process.poll() is None:
            self.snapshot()
            self._done.wait(0.1)

    def snapshot(self) -> None:
        pids = tree(self.process.pid)
        listening = _listening()
        self.pids |= pids
        self.ports |= {inode: listening[inode] for inode in sockets_of(pids) if inode in listening}

    def until(self, marker: str, timeout: float = 180) -> str:
        return self.lines.until(marker, timeout)

    def signal(self, signum: int) -> float:
        """Send ``signum``; returns the monotonic time it was sent."""
        self.snapshot()
        self.process.send_signal(signum)
        return time.monotonic()

    def leftovers(self) -> tuple[set[int], set[str]]:
        """Processes still alive and ports still listening, of all those the devnet ever had."""
        listening = _listening()
        return {p for p in self.pids if alive(p)}, {a for i, a in self.ports.items() if i in listening}

    def wait_gone(self, since: float, within: float) -> tuple[int, str]:
        """Wait until the process exited and nothing it had is left, at most ``within`` s after ``since``;
        returns (exit code, whole output)."""
        deadline = since + within
        try:
            code = self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"still running {within} s after the signal; output:\n{self.lines.rest(0)}"
            ) from None
        self._done.set()
        while (left := self.leftovers()) != (set(), set()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == (set(), set()), f"left behind (pids, ports): {left}; output:\n{self.lines.rest(1)}"
        return code, self.lines.rest(5)

    def kill(self) -> None:
        """Test clean-up: whatever is left of the tree is killed."""
        self._done.set()
        for pid in self.pids | tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
