"""The oracle daemon's life: startup, a loop of ticks (follow, expire, apply, report, reconcile), shutdown.

Each tick is safe to interrupt anywhere (the journal is the truth). The first SIGINT/SIGTERM lets the current
tick finish and stops; a second one exits at once. Expiries come from the journal and the local clock, so
members are removed on time even while the node is unreachable; their receipts follow when it is back.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import requests
from web3.exceptions import Web3Exception

from ..client import PamClient
from ..errors import NodeUnavailable, SdkError, Timeout
from .executor import Executor
from .follower import Follower
from .health import HealthServer
from .journal import Journal
from .reconciler import Reconciler
from .reporter import Reporter

log = logging.getLogger("pamchain.oracle")

_CHAIN_DOWN = (requests.exceptions.RequestException, ConnectionError, OSError, NodeUnavailable, Timeout)


@dataclass
class TickReport:
    """What one tick did (the test and burst-mode view of the loop)."""

    journalled: int = 0
    expired: int = 0
    applied: int = 0
    reported: int = 0
    drift: int = 0
    chain_reachable: bool = True


class OracleDaemon:
    """Wires the follower, executor, reporter and reconciler around one journal."""

    def __init__(
        self,
        client: PamClient,
        journal: Journal,
        follower: Follower,
        executor: Executor,
        reporter: Reporter,
        reconciler: Reconciler | None = None,
        *,
        poll_interval: float = 0.5,
        reconcile_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.journal = journal
        self.follower = follower
        self.executor = executor
        self.reporter = reporter
        self.reconciler = reconciler
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.clock = clock
        self._stop = threading.Event()
        self._signals = 0
        self._last_reconcile = 0.0
        self._last_tick = 0.0
        self._chain_reachable = False
        self._health: HealthServer | None = None

    # -- one tick ----------------------------------------------------------------------------------------

    def run_once(self) -> TickReport:
        """Follow the final blocks, schedule due expiries, apply due actions, post receipts, reconcile."""
        report = TickReport()
        try:
            report.journalled = self.follower.poll()
        except (*_CHAIN_DOWN, Web3Exception) as exc:
            report.chain_reachable = False
            log.warning("node unreachable, continuing from the journal", extra={"error": type(exc).__name__})
        now = self.clock()
        for grant in self.journal.expired_grants(now):
            if self.journal.ensure_removal(grant):
                report.expired += 1
                log.info(
                    "grant expired, removal scheduled",
                    extra={"request_id": grant.request_id, "expiry": grant.expiry},
                )
        report.applied = self.executor.run_due()
        if report.chain_reachable:
            try:
                report.reported = self.reporter.run_due()
            except (*_CHAIN_DOWN, Web3Exception) as exc:
                report.chain_reachable = False
                log.warning("node unreachable while reporting", extra={"error": type(exc).__name__})
        if self.reconciler is not None and now - self._last_reconcile >= self.reconcile_interval:
            try:
                report.drift = len(self.reconciler.run(self.client if report.chain_reachable else None))
                self._last_reconcile = now
            except (*_CHAIN_DOWN, Web3Exception, SdkError) as exc:
                log.warning("reconciliation deferred", extra={"error": type(exc).__name__})
        self._chain_reachable = report.chain_reachable
        self._last_tick = self.clock()
        return report

    # -- the loop ----------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        checkpoint = self.journal.checkpoint()
        age = self.clock() - self._last_tick if self._last_tick else None
        return {
            "healthy": bool(self._last_tick) and age is not None and age < max(10 * self.poll_interval, 30),
            "chain_reachable": self._chain_reachable,
            "checkpoint": checkpoint[0] if checkpoint else -1,
            "final_head": self.follower.final_head,
            "pending_actions": self.journal.count("pending"),
            "unreported_actions": self.journal.count("applied"),
            "reported_actions": self.journal.count("reported"),
            "seconds_since_tick": round(age, 3) if age is not None else None,
        }

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("signal received: draining, send again to exit at once", extra={"signal": signum})
            self._stop.set()
        else:
            raise SystemExit(128 + signum)

    def stop(self) -> None:
        self._stop.set()

    def run(
        self, *, health_host: str = "127.0.0.1", health_port: int | None = None, install_signals: bool = True
    ) -> None:
        """Run until stopped; the journal makes every exit point safe."""
        if install_signals:
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGTERM, self._on_signal)
        if health_port is not None:
            self._health = HealthServer(self.status, health_host, health_port).start()
        log.info("oracle started", extra={"checkpoint": self.status()["checkpoint"]})
        try:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except SdkError as exc:
                    log.error("tick failed", extra={"error": str(exc)})
                self._stop.wait(self._sleep_time())
        finally:
            if self._health is not None:
                self._health.stop()
            self.journal.close()
            log.info("oracle stopped")

    def _sleep_time(self) -> float:
        """Poll interval, shortened so that the next expiry is acted on within a few milliseconds."""
        delay = self.poll_interval
        next_expiry = self.journal.next_expiry()
        if next_expiry is not None:
            delay = min(delay, max(next_expiry - self.clock(), 0.0) + 0.001)
        if self.journal.due("pending", limit=1):
            delay = min(delay, 0.05)
        return delay
