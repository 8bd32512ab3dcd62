"""How a devnet ends: SIGINT, SIGTERM or a dying part stop it at any point, start-up included, every part
in reverse order; a second signal forces the exit; no child process outlives it.

Why it is built this way. ``pamchain devnet`` used to start its parts and play its stories on the main thread
and leave SIGINT to Python's default ``KeyboardInterrupt`` until it was ready. A devnet started from a script or
as ``make devnet &`` inherits SIGINT *ignored* (every background job does, and Python keeps that), so Ctrl-C
did nothing during start-up; SIGTERM killed it on the spot, leaving its temp dir and its Samba DC (in a session
of its own, so no signal reaches it) behind. Raising an exception from the signal handler is no cure: it lands
wherever the main thread is, and some places swallow it (a weakref callback, a ``__del__``, a library's
``except Exception``). So the start-up runs on a worker thread (:meth:`Lifecycle.run`), the main thread only
waits, both signals are taken for the whole run, and stopping is ordinary code on the main thread: the parts
started so far, in reverse order, while the worker is abandoned (a part it finishes starting afterwards is
stopped as soon as it is handed over).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

from .processes import descendants, stop_descendants

T = TypeVar("T")
STARTING, RUNNING, STOPPING = "starting", "running", "stopping"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DevnetError(Exception):
    """Root of the runner's errors: each is one line for the person who started it, never a traceback."""


class SetupError(DevnetError):
    """The devnet cannot start here (a busy port, a non-empty data dir, Samba missing)."""


class Stopped(BaseException):
    """The devnet stopped before its end: a signal or a part that died.

    Not an ``Exception``, for the reason ``KeyboardInterrupt`` is not one: no ``except Exception`` on its way
    out may swallow or reword it.
    """

    exit_code = 1
    said_so = False  # whether the devnet's own output already explains the stop (else: one error line)


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


class _Abandoned(BaseException):
    """Ends the start-up worker once the devnet is stopping without it (nobody reads it)."""


class Lifecycle:
    """Owns the devnet's parts (an exit stack), its signals and a watcher of its parts; use as a context on
    the main thread.

    ``run(start)`` calls ``start`` on a worker thread and returns its result, unless a signal or a dying part
    comes first (then :class:`Interrupted` / :class:`PartDied` is raised on the main thread, and again out of
    the context once every part has stopped: the caller's exit status). ``start``
    starts parts with ``enter_context(cm, name)``, has them checked with ``watch(part, check)`` and prints
    with ``echo`` (silent once stopping). ``ready()`` marks start-up done; ``wait()`` blocks until a signal or
    a dying part. Leaving the context stops the parts in reverse order, then any child process started since
    entering that still runs, then gives the signals back.
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
        self._lock = threading.RLock()  # re-entrant: the signal handler runs on the main thread
        self._phase = STARTING
        self._closing = False  # parts handed over from now on are stopped at once
        self._reason: Stopped | None = None  # why the devnet stops early, once known
        self._wake = threading.Event()  # a signal, a dying part or the worker's end
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="pamchain-devnet-watch", daemon=True)
        self._previous: dict[int, Any] = {}
        self._children_before: frozenset[int] = frozenset()  # a test runner's other children: not ours

    # ------------------------------------------------------------------------------------------- the run
    def __enter__(self) -> Lifecycle:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("a devnet runs on the main thread: only it receives signals")
        self._children_before = frozenset(descendants())
        for signum in _SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._watcher.start()
        return self

    def run(self, start: Callable[[], T]) -> T:
        """``start()`` on a worker thread; its result, or its error, or why the devnet stopped first."""
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["value"] = start()
            except BaseException as exc:  # handed to the main thread
                outcome["error"] = exc
            finally:
                self._wake.set()

        threading.Thread(target=work, name="pamchain-devnet-start", daemon=True).start()
        while True:
            self._wake.wait(self._interval)  # a timeout: a signal the kernel gave another thread still counts
            with self._lock:
                if self._reason is not None:
                    raise self._reason
            if "error" in outcome:
                raise outcome["error"]
            if "value" in outcome:
                self._wake.clear()
                value: T = outcome["value"]
                return value

    def enter_context(self, cm: contextlib.AbstractContextManager[T], name: str | None = None) -> T:
        """Start a part (on the worker); ``name`` (if any) is listed when the devnet stops. A part that
        finishes starting once the devnet is stopping is stopped at once."""
        part = contextlib.ExitStack()
        value = part.enter_context(cm)
        with self._lock:
            if not self._closing:
                self._stack.push(part.pop_all())
                if name is not None:
                    self._names.append(name)
                return value
        part.close()
        raise _Abandoned

    def echo(self, line: str) -> None:
        """Print, unless the devnet is stopping (an abandoned start-up has nothing left to say)."""
        if not self._closing and self._reason is None:
            self._echo(line)

    def watch(self, part: str, check: Callable[[], str | None]) -> None:
        """Have ``check`` run every ``interval`` s: ``None`` while ``part`` is fine, else what happened to it."""
        with self._lock:
            self._checks.append((part, check))

    def ready(self) -> None:
        with self._lock:
            if self._phase == STARTING:
                self._phase = RUNNING

    def wait(self) -> None:
        """Until SIGINT/SIGTERM or a dying part, raised here."""
        while True:
            self._wake.wait(self._interval)
            with self._lock:
                if self._reason is not None:
                    raise self._reason

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            self._phase = STOPPING
            self._closing = True
            stack = self._stack.pop_all()
        self._done.set()
        early = isinstance(exc, PartDied) or (isinstance(exc, Interrupted) and exc.during_start_up)
        loud = early or bool(self._names)
        try:
            parts = " " + ", ".join(reversed(self._names)) if self._names else ""
            if early:
                self._echo(f"\n{exc}: stopping{parts}...")
            elif loud:
                self._echo(f"\nstopping:{parts}...")
            stack.close()
        finally:
            self._watcher.join(5)
            stop_descendants(keep=self._children_before)
            for signum, handler in self._previous.items():
                signal.signal(signum, handler)
            if loud:
                self._echo("stopped; nothing left running.")

    # ------------------------------------------------------------------------------ signals and watcher
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Runs on the main thread between two steps of whatever it does: only records why and wakes it."""
        with self._lock:
            first = self._reason is None and self._phase != STOPPING
            if first:
                self._reason = Interrupted(signum, during_start_up=self._phase == STARTING)
        if not first:
            self._force(signum)
        self._wake.set()

    def _force(self, signum: int) -> None:
        """A second signal, or one during the shutdown: stop every child now and exit without unwinding."""
        os.write(2, b"\nsecond signal: stopping child processes and exiting at once\n")  # no buffered I/O
        stop_descendants(grace=0.5, keep=self._children_before)
        self._force_exit(128 + signum)

    def _watch(self) -> None:
        while not self._done.wait(self._interval):
            with self._lock:
                checks = list(self._checks)
            for part, check in checks:
                detail = check()
                if detail is None:
                    continue
                with self._lock:
                    if self._phase != STOPPING and self._reason is None:
                        self._reason = PartDied(part, detail)
                self._wake.set()
                return
