"""The devnet's Lifecycle in process: what a signal or a dying part does at each phase (the real process is
in tests/scripts/test_devnet_signals.py)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from pamchain.devnet.lifecycle import Interrupted, Lifecycle, PartDied
from pamchain.devnet.processes import alive


@contextlib.contextmanager
def part(name: str, log: list[str]) -> Iterator[None]:
    log.append(f"start {name}")
    try:
        yield
    finally:
        log.append(f"stop {name}")


def test_signal_during_start_up__interrupted_128_plus_signal__parts_stopped_in_reverse() -> None:
    log: list[str] = []
    lines: list[str] = []
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job inherits it
    try:
        with pytest.raises(Interrupted) as caught, Lifecycle(lines.append) as life:
            life.enter_context(part("node", log), "node")
            life.enter_context(part("oracle", log), "oracle")
            signal.raise_signal(signal.SIGINT)
            log.append("not reached")
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # given back as it was
    finally:
        signal.signal(signal.SIGINT, previous)
    assert caught.value.exit_code == 130
    assert log == ["start node", "start oracle", "stop oracle", "stop node"]
    assert lines == ["\ninterrupted by SIGINT: stopping oracle, node...", "stopped; nothing left running."]


def test_sigterm_once_ready__the_normal_end() -> None:
    log: list[str] = []
    with Lifecycle(lambda _: None, interval=0.05) as life:
        life.enter_context(part("node", log), "node")
        life.ready()
        threading.Timer(0.2, signal.raise_signal, (signal.SIGTERM,)).start()  # raised on the timer's thread
        life.wait()
    assert log == ["start node", "stop node"]


def test_second_signal_while_stopping__its_children_stopped_and_forced_exit() -> None:
    older = subprocess.Popen(["sleep", "60"])  # the test runner's, from before: not the devnet's to stop
    codes: list[int] = []

    def force_exit(code: int) -> None:
        codes.append(code)
        raise SystemExit(code)  # in the product: os._exit, no unwinding

    @contextlib.contextmanager
    def slow_to_stop() -> Iterator[None]:
        yield
        signal.raise_signal(signal.SIGINT)  # the person presses Ctrl-C again while parts stop

    try:
        with pytest.raises(SystemExit), Lifecycle(lambda _: None, force_exit=force_exit) as life:
            child = subprocess.Popen(["sleep", "60"])
            life.enter_context(slow_to_stop(), "slow part")
            signal.raise_signal(signal.SIGTERM)
        assert codes == [130]
        assert child.wait(5) is not None and not alive(child.pid)
        assert older.poll() is None
    finally:
        older.kill()
        older.wait()


def test_part_dies_during_start_up__main_thread_interrupted_even_when_blocked() -> None:
    dead = threading.Event()
    t0 = time.monotonic()
    with (
        pytest.raises(PartDied, match="the oracle stopped: boom") as caught,
        Lifecycle(lambda _: None, interval=0.05) as life,
    ):
        life.watch("the oracle", lambda: "stopped: boom" if dead.is_set() else None)
        threading.Timer(0.2, dead.set).start()
        time.sleep(30)  # a long step of the start-up (a compile, a provision)
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
        life.enter_context(oracle(), "oracle")
        life.watch("the oracle", lambda: None if running.is_set() else "stopped")
