"""Child processes seen from /proc: is one alive, which are ours, and the one ladder that stops them.

The devnet stops its Samba DC and reaps whatever child is left with these; the tests and the benchmarks stop
their anvil and node processes with the same ladder (SIGTERM, a grace period, SIGKILL), so there is one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Collection
from pathlib import Path


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...), or None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running and not a zombie (a daemon's parent may be a container init that never reaps)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def group_alive(pgid: int) -> bool:
    """Some member of process group ``pgid`` still runs (members may all be zombies)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return any(fields[2] == str(pgid) and fields[0] != "Z" for _, fields in _processes())


def _processes() -> list[tuple[int, list[str]]]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            out.append((int(entry.name), fields))
    return out


def descendants(root: int | None = None) -> list[int]:
    """Live descendants of ``root`` (this process by default), parents before their children."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    states = {}
    for pid, fields in _processes():
        children.setdefault(int(fields[1]), []).append(pid)
        states[pid] = fields[0]
    found: list[int] = []
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop(0)
        if states.get(pid, "Z") != "Z":
            found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # when it is our child, so that it does not linger as a zombie


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | int,
    *,
    group: bool = False,
    grace: float = 10.0,
    first: int = signal.SIGTERM,
) -> None:
    """Stop a process (with ``group``, its whole process group, whose id is its pid): ``first`` (SIGTERM), up
    to ``grace`` seconds to exit, then SIGKILL. Returns once it is gone; an absent process is not an error."""
    pid = process if isinstance(process, int) else process.pid
    for signum, wait in ((first, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(pid, signum)
            else:
                os.kill(pid, signum)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if isinstance(process, int):
                _reap(pid)
            elif process.poll() is not None and not group:
                return
            if not alive(pid) and not (group and group_alive(pid)):
                return
            time.sleep(0.02)


def stop_descendants(grace: float = 2.0, *, keep: Collection[int] = ()) -> list[int]:
    """Stop every process this one started, directly or not, that still runs, but those in ``keep``;
    returns their pids.

    A child in a process group of its own is stopped with its group; one in ours alone (never our group:
    that would be ourselves)."""
    ours = os.getpgrp()
    left = [pid for pid in descendants() if pid not in keep]
    for pid in left:
        fields = _stat(pid)
        if fields is None:
            continue
        pgid = int(fields[2])
        stop_process(pid, group=pgid == pid and pgid != ours, grace=grace)
    return left
