"""The oracle daemon's life: startup, a loop of ticks (follow, apply, report, alarm, reconcile, leavers), shutdown.

A tick starts when the node announces a new head (``HeadWatch``: a ``newHeads`` subscription), when a
deferred action falls due, or after ``poll_interval`` at the latest (the fallback clock when the endpoint
has no WebSocket or the subscription is down).

Each tick is safe to interrupt anywhere (the journal is the truth). The first SIGINT/SIGTERM lets the current
tick finish and stops; a second one exits at once. Removals run in a thread of their own, on their own
directory connection: expiries come from the journal and the local clock, so members are removed on time
even while the node is unreachable, and no unlock, reset, addition or chain call can hold a removal up. A
removal AD has not confirmed ``late_after`` seconds after it fell due raises an alarm on chain.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import Action
from pamchain.sdk.drain import Drain
from pamchain.sdk.errors import CHAIN_DOWN, ContractRevert, SdkError
from pamchain.sdk.oracle.executor import OTHER, Executor
from pamchain.sdk.oracle.follower import Follower
from pamchain.sdk.oracle.heads import HeadWatch
from pamchain.sdk.oracle.health import HealthServer
from pamchain.sdk.oracle.journal import Journal
from pamchain.sdk.oracle.leavers import LeaverWatch
from pamchain.sdk.oracle.reconciler import Reconciler
from pamchain.sdk.oracle.reporter import Reporter
from web3.exceptions import Web3Exception

log = logging.getLogger("pamchain.oracle")
PRUNE_INTERVAL = 3600.0  # seconds between two journal retention passes (docs/privacy.md)

# A tick goes on when the node is unreachable or answers with an error (named, and typed, because mypy cannot
# check an `except` over an unpacked tuple).
_NODE_TROUBLE: tuple[type[BaseException], ...] = (*CHAIN_DOWN, Web3Exception)
_RECONCILE_DEFERRED: tuple[type[BaseException], ...] = (*_NODE_TROUBLE, SdkError)


@dataclass
class TickReport:
    """What one tick did (the test and burst-mode view of the loop)."""

    journalled: int = 0
    expired: int = 0
    applied: int = 0
    reported: int = 0
    drift: int = 0
    leavers: int = 0
    alarms: int = 0
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
        removal_executor: Executor | None = None,
        poll_interval: float = 0.5,
        reconcile_interval: float = 60.0,
        late_after: float = 60.0,
        clock: Callable[[], float] = time.time,
        leavers: LeaverWatch | None = None,
        leavers_interval: float = 60.0,
        heads_url: str | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.follower = follower
        self.executor = executor
        # The removal lane's own executor (its own directory connection); the main one when not given.
        self.removal_executor = removal_executor or executor
        self.late_after = late_after
        self._removal_thread: threading.Thread | None = None
        self._removal_wake = threading.Event()
        self.reporter = reporter
        self.reconciler = reconciler
        self.poll_interval = poll_interval
        self.reconcile_interval = reconcile_interval
        self.leavers = leavers
        self.leavers_interval = leavers_interval
        self._last_leavers = 0.0
        self.clock = clock
        self._wake = threading.Event()  # a new head (or stop): tick now
        self._drain = Drain(log, on_stop=self._wake.set)
        self._stop = self._drain.stopping
        self._last_reconcile = 0.0
        self._last_prune = -math.inf
        self._last_tick = 0.0
        self._chain_reachable = False
        self._health: HealthServer | None = None
        # The node's newHeads subscription, started by ``run``; None: poll only.
        self.heads = HeadWatch(heads_url, self._wake.set) if heads_url else None

    # -- one tick ----------------------------------------------------------------------------------------

    def run_once(self) -> TickReport:
        """Follow the final blocks, apply due actions (removals first), post receipts and alarms, reconcile,
        look for leavers.

        With the removal thread running (``run``), this tick leaves removals to it.
        """
        report = TickReport()
        try:
            report.journalled = self.follower.poll()
        except _NODE_TROUBLE as exc:
            report.chain_reachable = False
            log.warning("node unreachable, continuing from the journal", extra={"error": type(exc).__name__})
        if report.journalled:
            self._removal_wake.set()
        now = self.clock()
        if self._removal_thread is None:
            report.expired = self.executor.schedule_expiries()
            report.applied = self.executor.run_due()
        else:
            report.applied = self.executor.run_due(lane=OTHER)
        if report.chain_reachable:
            try:
                report.reported = self.reporter.run_due()
                report.alarms = self._alarm_late_removals()
            except _NODE_TROUBLE as exc:
                report.chain_reachable = False
                log.warning("node unreachable while reporting", extra={"error": type(exc).__name__})
        if self.reconciler is not None and now - self._last_reconcile >= self.reconcile_interval:
            try:
                report.drift = len(self.reconciler.run(self.client if report.chain_reachable else None))
                self._last_reconcile = now
            except _RECONCILE_DEFERRED as exc:
                log.warning("reconciliation deferred", extra={"error": type(exc).__name__})
        if self.leavers is not None and now - self._last_leavers >= self.leavers_interval:
            try:
                report.leavers = len(self.leavers.run(self.client if report.chain_reachable else None))
                self._last_leavers = now
            except _RECONCILE_DEFERRED as exc:
                log.warning("leaver pass deferred", extra={"error": type(exc).__name__})
        if now - self._last_prune >= PRUNE_INTERVAL:
            self._last_prune = now
            pruned = self.journal.prune(now)
            if pruned.evidence or pruned.grants:
                log.info("journal retention", extra={"evidence": pruned.evidence, "grants": pruned.grants})
        self._chain_reachable = report.chain_reachable
        self._last_tick = self.clock()
        return report

    def _alarm_late_removals(self) -> int:
        """Page security staff once per removal AD has not confirmed in time (or that failed for good)."""
        raised = 0
        for entry in self.journal.late_removals(self.clock(), self.late_after):
            item = entry.action
            try:
                self.client.report_late_removal(item.request_id, self.reporter.dc_id)
            except ContractRevert as exc:
                # Removed meanwhile (its receipt is on chain) or not ours to report: nothing to page about.
                log.info(
                    "late removal not alarmed", extra={"request_id": item.request_id, "reason": exc.reason}
                )
            else:
                raised += 1
                log.error(
                    "removal late: alarm raised",
                    extra={
                        "request_id": item.request_id,
                        "due_since": entry.due_since,
                        "attempts": entry.attempts,
                    },
                )
            self.journal.mark_alarmed(item.request_id, Action.REMOVE_MEMBER)
        return raised

    # -- the removal lane ----------------------------------------------------------------------------------

    def _removal_loop(self) -> None:
        """Removals only, until stopped: due expiries and ended grants, woken early when the follower finds
        new ones; each deferred removal is retried at its own time."""
        while not self._stop.is_set():
            try:
                self.removal_executor.run_removals()
            except Exception as exc:  # the journal failing must not end the lane; say so and go on
                log.error("removal lane error", extra={"error": type(exc).__name__})
            self._removal_wake.wait(self._removal_sleep())
            self._removal_wake.clear()

    def _removal_sleep(self) -> float:
        now = self.clock()
        delay = self.poll_interval
        for moment in (self.journal.next_expiry(), self.journal.next_retry(lane="removal")):
            if moment is not None:
                delay = min(delay, max(moment - now, 0.0) + 0.001)
        return delay

    # -- the loop ----------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        checkpoint = self.journal.checkpoint()
        now = self.clock()
        age = now - self._last_tick if self._last_tick else None
        oldest = self.journal.oldest_pending()
        chain = self.follower.health()  # light client (issue 11/9): what was verified, a lying endpoint
        return {
            **chain,
            **(self.heads.health() if self.heads is not None else {"head_subscription": None}),
            "healthy": bool(self._last_tick)
            and age is not None
            and age < max(10 * self.poll_interval, 30)
            and chain.get("endpoint_lies") is None,
            "chain_reachable": self._chain_reachable,
            "checkpoint": checkpoint[0] if checkpoint else -1,
            "final_head": self.follower.final_head,
            "pending_actions": self.journal.count("pending"),
            "unreported_actions": self.journal.count("applied"),
            "reported_actions": self.journal.count("reported"),
            "deferred_actions": self.journal.deferred(),
            "late_removals": self.journal.late_removal_count(now, self.late_after),
            **self.journal.tallies(),
            "oldest_pending_seconds": round(max(now - oldest, 0.0), 3) if oldest is not None else 0.0,
            "removal_lane_alive": self._removal_thread is not None and self._removal_thread.is_alive(),
            "seconds_since_tick": round(age, 3) if age is not None else None,
        }

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._removal_wake.set()

    def run(
        self, *, health_host: str = "127.0.0.1", health_port: int | None = None, install_signals: bool = True
    ) -> None:
        """Run until stopped; the journal makes every exit point safe."""
        if install_signals:
            self._drain.install()
        if health_port is not None:
            self._health = HealthServer(self.status, health_host, health_port).start()
        self._removal_thread = threading.Thread(
            target=self._removal_loop, name="oracle-removals", daemon=True
        )
        self._removal_thread.start()
        if self.heads is not None:
            self.heads.start()
        log.info("oracle started", extra={"checkpoint": self.status()["checkpoint"]})
        try:
            while not self._stop.is_set():
                self._wake.clear()  # a head announced during the tick starts the next one at once
                try:
                    self.run_once()
                except SdkError as exc:
                    log.error("tick failed", extra={"error": str(exc)})
                self._wake.wait(self._sleep_time())
        finally:
            self._stop.set()
            self._removal_wake.set()
            if self.heads is not None:
                self.heads.stop()
            self._removal_thread.join(timeout=30)
            if self._health is not None:
                self._health.stop()
            self.journal.close()
            log.info("oracle stopped")

    def _sleep_time(self) -> float:
        """Poll interval, shortened so that a deferred action is retried at its time (removals have their
        own thread and clock)."""
        delay = self.poll_interval
        retry = self.journal.next_retry(lane=OTHER)
        if retry is not None:
            delay = min(delay, max(retry - self.clock(), 0.0) + 0.001)
        return delay
