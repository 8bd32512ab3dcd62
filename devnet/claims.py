"""Machine-wide claims: a number (a port for a server, the last octet of a loopback address for a DC) that one
process holds while it lives, so that parallel test workers, a benchmark and a devnet starting at the same
moment never pick the same one.

A claim is a POSIX record lock on byte ``n`` of one file per kind, in a directory every process sees (not
``$TMPDIR``, which a test may make private). The kernel drops a process's locks when it exits, and one open
descriptor per kind serves any number of claims (a test worker claims a port for each of hundreds of servers).
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

CLAIMS = Path("/tmp/pamchain-claims")


class Claims:
    """The claims of one kind (``CLAIMS / kind``) that this process holds."""

    def __init__(self, kind: str) -> None:
        self.path = CLAIMS / kind
        self._fd: int | None = None
        self._held: set[int] = set()

    def claim(self, n: int) -> bool:
        """Claim ``n`` for this process; False if this process or another one holds it already."""
        if n in self._held:  # a process's own record locks never conflict: it keeps its own count
            return False
        fd = self._open()
        if fd is None:
            return False
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, n)
        except OSError:
            return False
        self._held.add(n)
        return True

    def release(self, n: int) -> None:
        """Give up this process's claim on ``n``; a no-op for one it does not hold."""
        if n in self._held and self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, n)
            self._held.discard(n)

    def _open(self) -> int | None:
        # Opened once and never closed: closing any descriptor of the file would drop all this process's locks.
        if self._fd is None:
            try:
                if not CLAIMS.is_dir():
                    CLAIMS.mkdir(exist_ok=True)
                    CLAIMS.chmod(
                        0o1777
                    )  # like /tmp itself: any user may claim, nobody removes another's file
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                return None  # another user's file that this one may not write: they run alone here
            if os.fstat(fd).st_uid == os.getuid():
                os.fchmod(fd, 0o666)  # the umask took write access from other users' processes
            self._fd = fd
        return self._fd


PORTS = Claims("ports")
LOOPBACK = Claims("loopback")  # by last octet: 127.0.0.n


def port_free(ip: str, port: int) -> bool:
    """Whether a server could bind ``ip:port`` now (nothing listens there, no connection lingers on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True
