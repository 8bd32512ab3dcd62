"""The devnet's Lifecycle in process: what a signal or a dying part does at each phase (the real process is
in tests/scripts/test_devnet_signals.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from pamchain.devnet.lifecycle import Interrupted, Lifecycle, PartDied
from pamchain.devnet.processes import alive
from pamchain.devnet.runner import OracleThread


@contextlib.contextmanager
def part(name: str, log: list[str]) -> Iterator[str]:
    log.append(f"start {name}")
    try:
        yield name
    finally:
        log.append(f"stop {name}")


def _signal_soon(signum: int, delay: float = 0.1) -> None:
    """From another thread, as the kernel may deliver it: the main thread must still act on it."""
    threading.Timer(delay, os.kill, (os.getpid(), signum)).start()


def test_signal_during_start_up__interrupted_128_plus_signal__parts_stopped_in_reverse() -> None:
    log: list[str] = []
    lines: list[str] = []
    release = threading.Event()

    def start() -> None:
        life.enter_context(part("node", log), "node")
        life.enter_context(part("oracle", log), "oracle")
        _signal_soon(signal.SIGINT)
        release.wait(30)  # a long step of the start-up (a compile, a provision)
        life.echo("not printed: the devnet is stopping")

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job inherits it
    try:
        with pytest.raises(Interrupted) as caught, Lifecycle(lines.append, interval=0.05) as life:
            life.run(start)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # given back as it was
    finally:
        release.set()
        signal.signal(signal.SIGINT, previous)
    assert caught.value.exit_code == 130
    assert log == ["start node", "start oracle", "stop oracle", "stop node"]
    assert lines == ["\ninterrupted by SIGINT: stopping oracle, node...", "stopped; nothing left running."]


def test_sigterm_once_ready__the_normal_end__exit_0() -> None:
    log: list[str] = []
    with pytest.raises(Interrupted) as caught, Lifecycle(lambda _: None, interval=0.05) as life:
        assert life.run(lambda: life.enter_context(part("node", log), "node")) == "node"
        life.ready()
        _signal_soon(signal.SIGTERM)
        life.wait()
    assert caught.value.exit_code == 0
    assert log == ["start node", "stop node"]


def test_part_ready_after_the_stop_began__stopped_at_once() -> None:
    log: list[str] = []
    entering, late = threading.Event(), threading.Event()

    @contextlib.contextmanager
    def slow_part() -> Iterator[None]:
        entering.set()
        late.wait(10)  # still starting when the signal comes
        log.append("started late")
        yield
        log.append("stopped late")

    def start() -> None:
        life.enter_context(slow_part(), "slow")

    with pytest.raises(Interrupted), Lifecycle(lambda _: None, interval=0.05) as life:

        def stop_while_entering() -> None:
            entering.wait(10)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_while_entering).start()
        life.run(start)
    late.set()
    deadline = time.monotonic() + 10
    while log != ["started late", "stopped late"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log == ["started late", "stopped late"]


def test_second_signal_while_stopping__its_children_stopped_and_forced_exit() -> None:
    older = subprocess.Popen(["sleep", "60"])  # the test runner's, from before: not the devnet's to stop
    codes: list[int] = []

    def force_exit(code: int) -> None:
        codes.append(code)
        raise SystemExit(code)  # in the product: os._exit, no unwinding

    @contextlib.contextmanager
    def slow_to_stop() -> Iterator[None]:
        yield
        os.kill(os.getpid(), signal.SIGINT)  # the person presses Ctrl-C again while parts stop

    children: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        children.append(subprocess.Popen(["sleep", "60"]))
        life.enter_context(slow_to_stop(), "slow part")

    try:
        with pytest.raises(SystemExit), Lifecycle(lambda _: None, force_exit=force_exit) as life:
            life.run(start)
        assert codes == [130]
        assert children[0].wait(5) is not None and not alive(children[0].pid)
        assert older.poll() is None
    finally:
        older.kill()
        older.wait()


def test_part_dies_during_start_up__stops_within_seconds() -> None:
    dead, release = threading.Event(), threading.Event()
    t0 = time.monotonic()
    try:
        with (
            pytest.raises(PartDied, match="the oracle stopped: boom") as caught,
            Lifecycle(lambda _: None, interval=0.05) as life,
        ):
            life.watch("the oracle", lambda: "stopped: boom" if dead.is_set() else None)
            threading.Timer(0.2, dead.set).start()
            life.run(lambda: release.wait(30))
    finally:
        release.set()
    assert time.monotonic() - t0 < 5
    assert caught.value.exit_code == 1


def test_part_stops_during_the_normal_stop__not_a_failure() -> None:
    running = threading.Event()
    running.set()

    @contextlib.contextmanager
    def oracle() -> Iterator[None]:
        yield
        running.clear()
        time.sleep(0.2)  # the watcher looks while the part is down

    with Lifecycle(lambda _: None, interval=0.02) as life:
        life.run(lambda: life.enter_context(oracle(), "oracle"))
        life.watch("the oracle", lambda: None if running.is_set() else "stopped")


def test_start_up_error__parts_stopped_and_the_error_raised_as_is() -> None:
    log: list[str] = []

    def start() -> None:
        life.enter_context(part("node", log), "node")
        raise ValueError("port busy")

    with pytest.raises(ValueError, match="port busy"), Lifecycle(lambda _: None) as life:
        life.run(start)
    assert log == ["start node", "stop node"]


def test_oracle_thread_dies__failure_names_the_exception_and_where() -> None:
    """The devnet shows no log, so the watcher's line is all a user sees of an oracle that died: the live
    world's oracle once ended with ``stopped: 'PYTEST_CURRENT_TEST'``, a KeyError's bare key."""

    class Daemon:
        def run(self, *, install_signals: bool) -> None:
            raise KeyError("SOME_VARIABLE")

        def stop(self) -> None:
            pass

    with OracleThread(Daemon()) as oracle:
        oracle.thread.join(10)
        failure = oracle.failure()
    assert failure is not None
    assert failure.startswith("stopped: KeyError: 'SOME_VARIABLE' (at test_lifecycle.py:")
    assert failure.endswith(" in run)")


def test_oracle_thread_running__no_failure__stopped_quietly__stopped() -> None:
    class Daemon:
        def __init__(self) -> None:
            self.stopping = threading.Event()

        def run(self, *, install_signals: bool) -> None:
            self.stopping.wait(30)

        def stop(self) -> None:
            self.stopping.set()

    daemon = Daemon()
    with OracleThread(daemon) as oracle:
        assert oracle.failure() is None
    assert oracle.failure() == "stopped"
