"""Fault injection for the oracle suite: a loopback TCP proxy that can be cut and restored, and the figures."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


class TcpProxy:
    """Forwards a loopback port to ``target``; ``cut()`` closes every connection and refuses new ones (the
    peer is down, as far as the client can tell), ``restore()`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener: socket.socket | None = None
        self._links: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.port = 0
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            links, self._links = self._links, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for link in links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._links |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.02) -> float:
    """Poll ``condition`` until true; returns the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)
    return time.monotonic()


@dataclass
class FaultFigures:
    """What one fault run measured (docs/reliability.md reports these)."""

    fault: str
    actions_expected: int = 0
    actions_lost: int = 0
    outcomes_twice: int = 0
    receipts_duplicated: int = 0
    removal_delays_after_outage: list[float] = field(default_factory=list)  # seconds, outage end -> removed
    removal_lateness_while_reachable: list[float] = field(default_factory=list)  # seconds after expiry
    removals_behind_another_action: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    def save(self) -> None:
        """Appended as a JSON line to $PAMCHAIN_FAULT_REPORT when set (how docs/reliability.md was filled)."""
        target = os.environ.get("PAMCHAIN_FAULT_REPORT")
        if target:
            with Path(target).open("a") as out:
                out.write(json.dumps(asdict(self)) + "\n")


def removal_lateness(log: Path) -> dict[int, float]:
    """Per removal in the oracle's JSON log: seconds between it falling due and AD confirming it."""
    out: dict[int, float] = {}
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("msg") == "action done" and entry.get("action") == "REMOVE_MEMBER":
                out[int(entry["request_id"])] = float(entry.get("late_by", 0.0))
    return out
