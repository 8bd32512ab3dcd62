"""The daemons' shutdown rule: the first SIGINT/SIGTERM asks for a drain, a second one exits at once."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType


class Drain:
    """``stopping`` is set by ``request()`` or the first signal; a second signal raises ``SystemExit``."""

    def __init__(self, log: logging.Logger, on_stop: Callable[[], None] = lambda: None) -> None:
        self.stopping = threading.Event()
        self._log = log
        self._signals = 0
        self._on_stop = on_stop  # wakes a loop that waits on something other than ``stopping``

    def install(self) -> None:
        """Take SIGINT and SIGTERM (main thread only, as ``signal.signal`` requires)."""
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def request(self) -> None:
        self.stopping.set()
        self._on_stop()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            self._log.info("signal received: draining, send again to exit at once", extra={"signal": signum})
            self.stopping.set()
            self._on_stop()
        else:
            raise SystemExit(128 + signum)
