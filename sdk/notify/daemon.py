"""The notifier's life: startup, a loop of ticks (follow final blocks, deliver due notifications), shutdown.

Every exit point is safe (the journal is the truth). The first SIGINT/SIGTERM lets the current tick finish
(and stops delivering the rest of its batch); a second exits at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pamchain.sdk.drain import Drain
from pamchain.sdk.errors import CHAIN_DOWN, SdkError
from pamchain.sdk.notify.dispatcher import Dispatcher
from pamchain.sdk.notify.follower import NotifyFollower
from pamchain.sdk.notify.journal import FAILED, PENDING, SENT, NotifyJournal
from pamchain.sdk.oracle.errors import ChainReorganised
from pamchain.sdk.oracle.health import HealthServer
from web3.exceptions import Web3Exception

log = logging.getLogger("pamchain.notify")

# A tick goes on when the node is unreachable or answers with an error (named, and typed, because mypy cannot
# check an `except` over an unpacked tuple).
_NODE_TROUBLE: tuple[type[BaseException], ...] = (*CHAIN_DOWN, Web3Exception)


@dataclass
class NotifyTick:
    """What one tick did (the test and burst-mode view of the loop)."""

    queued: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    chain_reachable: bool = True


class NotifyDaemon:
    """Wires the follower and the dispatcher around one journal."""

    def __init__(
        self,
        journal: NotifyJournal,
        follower: NotifyFollower,
        dispatcher: Dispatcher,
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.follower = follower
        self.dispatcher = dispatcher
        self.poll_interval = poll_interval
        self.clock = clock
        self._drain = Drain(log)
        self._last_tick = 0.0
        self._chain_reachable = False
        self._health: HealthServer | None = None

    def run_once(self) -> NotifyTick:
        """Queue what the new final blocks call for, then deliver what is due; the node being down only
        stops the first half."""
        tick = NotifyTick()
        try:
            tick.queued = self.follower.poll()
        except _NODE_TROUBLE as exc:
            tick.chain_reachable = False
            log.warning("node unreachable, delivering from the journal", extra={"error": type(exc).__name__})
        self._chain_reachable = tick.chain_reachable
        delivered = self.dispatcher.deliver_due(stop=self._drain.stopping.is_set)
        tick.sent, tick.deferred, tick.failed = delivered.sent, delivered.deferred, delivered.failed
        self._last_tick = self.clock()
        return tick

    def status(self) -> dict[str, Any]:
        now = self.clock()
        checkpoint = self.journal.checkpoint()
        age = now - self._last_tick if self._last_tick else None
        oldest = self.journal.oldest_pending()
        return {
            "healthy": age is not None and age < max(10 * self.poll_interval, 30),
            "chain_reachable": self._chain_reachable,
            "checkpoint": checkpoint[0] if checkpoint else -1,
            "final_head": self.follower.final_head,
            "pending_notifications": self.journal.count(PENDING),
            "sent_notifications": self.journal.count(SENT),
            "failed_notifications": self.journal.count(FAILED),
            "deferred_notifications": self.journal.deferred(),
            "unroutable_notices": self.follower.unroutable,
            "oldest_pending_seconds": round(max(now - oldest, 0.0), 3) if oldest is not None else 0.0,
            "seconds_since_tick": round(age, 3) if age is not None else None,
        }

    def stop(self) -> None:
        self._drain.request()

    def run(
        self, *, health_host: str = "127.0.0.1", health_port: int | None = None, install_signals: bool = True
    ) -> None:
        """Run until stopped."""
        if install_signals:
            self._drain.install()
        if health_port is not None:
            self._health = HealthServer(
                self.status, health_host, health_port, prefix="pamchain_notify_"
            ).start()
        log.info("notifier started", extra={"checkpoint": self.status()["checkpoint"]})
        try:
            while not self._drain.stopping.is_set():
                try:
                    self.run_once()
                except ChainReorganised:
                    raise  # not the chain we followed: stop, and let the operator look (exit 1, one line)
                except SdkError as exc:
                    log.error("tick failed", extra={"error": str(exc)})
                self._drain.stopping.wait(self._sleep_time())
        finally:
            self._drain.request()
            if self._health is not None:
                self._health.stop()
            self.journal.close()
            log.info("notifier stopped")

    def _sleep_time(self) -> float:
        """Poll interval, shortened so that a deferred notification is retried at its time."""
        delay = self.poll_interval
        retry = self.journal.next_retry()
        if retry is not None:
            delay = min(delay, max(retry - self.clock(), 0.0) + 0.001)
        return delay
