"""Machine-wide claims: a name (a loopback address for a DC, a port for a server) that one process holds while
it lives, so that parallel test workers, a benchmark and a devnet starting at the same moment never pick the
same one.

A claim is an exclusive ``flock`` on a file named after it, in one directory every process sees (not
``$TMPDIR``, which a test may make private), held until :func:`release` or the process's exit.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

CLAIMS = Path("/tmp/pamchain-claims")
_HELD: dict[str, int] = {}  # name -> the open descriptor whose lock claims it


def claim(name: str) -> bool:
    """Claim ``name`` for this process; False if this process or another one holds it already."""
    if name in _HELD:
        return False
    try:
        if not CLAIMS.is_dir():
            CLAIMS.mkdir(exist_ok=True)
            CLAIMS.chmod(0o1777)  # like /tmp itself: any user may claim, nobody removes another's file
        fd = os.open(CLAIMS / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return False  # another user's claim file: the name is theirs
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _HELD[name] = fd
    return True


def release(name: str) -> None:
    """Give up this process's claim on ``name``; a no-op for a name it does not hold."""
    fd = _HELD.pop(name, None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor drops the lock


def port_free(ip: str, port: int) -> bool:
    """Whether a server could bind ``ip:port`` now (nothing listens there, no connection lingers on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True
