"""How a devnet ends: SIGINT, SIGTERM or a dying part stop it at any point, start-up included, every part
in reverse order; a second signal forces the exit; no child process outlives it.

Why the handlers are taken explicitly, for the whole life of the run: relying on Python's default SIGINT
(``KeyboardInterrupt``) left start-up unstoppable whenever the devnet inherited SIGINT *ignored* — as every
job a script or ``make devnet &`` starts in the background does, and Python keeps that disposition — and
SIGTERM killed the process on the spot, leaving its temp dir and its Samba DC (its own session, so no signal
of ours reaches it) running. Here both signals raise :class:`Interrupted` in the main thread, whatever it is
doing, so the parts already started unwind in order; a part that dies is noticed by a watcher thread, which
interrupts the main thread the same way (:class:`PartDied`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

from .processes import descendants, stop_descendants

T = TypeVar("T")
STARTING, RUNNING, STOPPING = "starting", "running", "stopping"
_WAKE = signal.SIGUSR1  # sent by the watcher to the main thread when a part died
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DevnetError(Exception):
    """Root of the runner's errors: each is one line for the person who started it, never a traceback."""


class SetupError(DevnetError):
    """The devnet cannot start here (a busy port, a non-empty data dir, Samba missing)."""


class Stopped(BaseException):
    """The devnet stopped before its end: a signal or a part that died.

    Not an ``Exception``, for the reason ``KeyboardInterrupt`` is not one: it is raised wherever the main
    thread happens to be, and an ``except Exception`` there (vyper wraps any into a ``CompilerPanic``, the
    SDK's senders translate theirs) must not swallow or reword it.
    """

    exit_code = 1


class Interrupted(Stopped):
    """SIGINT or SIGTERM. Before the devnet is ready it exits 128 + the signal, as an interrupted command
    does (130 for Ctrl-C, 143 for SIGTERM); once ready, a signal is how a devnet ends: exit 0."""

    said_so = True

    def __init__(self, signum: int, during_start_up: bool) -> None:
        self.signum = signum
        self.during_start_up = during_start_up
        self.exit_code = 128 + signum if during_start_up else 0
        super().__init__(f"interrupted by {signal.Signals(signum).name}" if during_start_up else "stopping")


class PartDied(Stopped):
    """A part of the devnet (the Samba DC, the oracle) exited under it."""

    def __init__(self, part: str, detail: str) -> None:
        self.part = part
        super().__init__(f"{part} {detail}")


class Lifecycle:
    """Owns the devnet's parts (an exit stack), its signals and a watcher of its parts; use as a context.

    ``enter_context(cm, name)`` starts a part; ``watch(part, check)`` has it checked every ``interval``
    seconds; ``ready()`` marks start-up done;
    ``wait()`` blocks until a signal or a dying part. Leaving the context stops the parts in reverse order,
    then stops any child process started since entering that still runs (a part interrupted between
    starting a child and recording it), then gives the signals back.
    """

    def __init__(
        self,
        echo: Callable[[str], None],
        *,
        interval: float = 0.2,
        force_exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self._echo = echo
        self._interval = interval
        self._force_exit = force_exit
        self._stack = contextlib.ExitStack()
        self._names: list[str] = []
        self._checks: list[tuple[str, Callable[[], str | None]]] = []
        self._lock = threading.RLock()  # re-entrant: the signal handlers run on the main thread
        self._phase = STARTING
        self._failure: PartDied | None = None
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="pamchain-devnet-watch", daemon=True)
        self._previous: dict[int, Any] = {}
        self._children_before: frozenset[int] = (
            frozenset()
        )  # not ours to stop (a test runner's other children)

    @property
    def phase(self) -> str:
        return self._phase

    def __enter__(self) -> Lifecycle:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("a devnet runs on the main thread: only it receives signals")
        self._children_before = frozenset(descendants())
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._previous[_WAKE] = signal.signal(_WAKE, self._on_wake)
        self._watcher.start()
        return self

    def enter_context(self, cm: contextlib.AbstractContextManager[T], name: str | None = None) -> T:
        """Start a part; ``name`` (if any) is listed when the devnet stops."""
        value = self._stack.enter_context(cm)
        if name is not None:
            self._names.append(name)
        return value

    def watch(self, part: str, check: Callable[[], str | None]) -> None:
        """Have ``check`` run every ``interval`` s: ``None`` while ``part`` is fine, else what happened to it."""
        with self._lock:
            self._checks.append((part, check))

    def ready(self) -> None:
        with self._lock:
            if self._phase == STARTING:
                self._phase = RUNNING

    def wait(self) -> None:
        """Until SIGINT/SIGTERM or a dying part, which raise here (a short sleep: a signal the kernel gave
        another thread is handled within ``interval``)."""
        while True:
            time.sleep(self._interval)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            with self._lock:
                self._phase = STOPPING
        finally:
            self._stop(exc)
        if isinstance(exc, Interrupted) and not exc.during_start_up:
            return True  # a running devnet ends this way
        if exc is None and self._failure is not None:
            raise self._failure  # died while the main thread was already on its way out
        return False

    def _stop(self, exc: BaseException | None) -> None:
        """Parts in reverse order, then stray children, then the signals; said aloud when parts were named
        or when the run ends early."""
        self._done.set()
        early = isinstance(exc, PartDied) or (isinstance(exc, Interrupted) and exc.during_start_up)
        loud = early or bool(self._names)
        try:
            parts = " " + ", ".join(reversed(self._names)) if self._names else ""
            if early:
                self._echo(f"\n{exc}: stopping{parts}...")
            elif loud:
                self._echo(f"\nstopping:{parts}...")
            self._stack.close()
        finally:
            self._watcher.join(5)
            stop_descendants(keep=self._children_before)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            if loud:
                self._echo("stopped; nothing left running.")

    # ------------------------------------------------------------------------------ signals and watcher
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            phase = self._phase
            self._phase = STOPPING
        if phase == STOPPING:
            self._force(signum)
        raise Interrupted(signum, during_start_up=phase == STARTING)

    def _force(self, signum: int) -> None:
        """A second signal, or one during the shutdown: stop every child now and exit without unwinding."""
        os.write(2, b"\nsecond signal: stopping child processes and exiting at once\n")  # no buffered I/O
        stop_descendants(grace=0.5, keep=self._children_before)
        self._force_exit(128 + signum)

    def _on_wake(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            if self._failure is None or self._phase == STOPPING:
                return  # someone else's SIGUSR1, or already stopping: nothing to interrupt
            self._phase = STOPPING
            failure = self._failure
        raise failure

    def _watch(self) -> None:
        while not self._done.wait(self._interval):
            with self._lock:
                checks = list(self._checks)
            for part, check in checks:
                detail = check()
                if detail is None:
                    continue
                with self._lock:
                    if self._phase == STOPPING:
                        return
                    self._failure = PartDied(part, detail)
                main = threading.main_thread().ident
                assert main is not None
                signal.pthread_kill(main, _WAKE)
                return
