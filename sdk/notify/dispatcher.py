"""Delivers due notifications, each with its own retry time, so that one dead channel holds up nothing else."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from pamchain.sdk.notify.config import NOTIFY_RETRY, Recipient
from pamchain.sdk.notify.errors import DeliveryFailed
from pamchain.sdk.notify.journal import NotifyJournal
from pamchain.sdk.notify.messages import Notification
from pamchain.sdk.oracle.executor import Retry

log = logging.getLogger("pamchain.notify")

# Destinations served at once in a round (each is one relay or endpoint; more wait for a free thread).
MAX_LANES = 8


class Channel(Protocol):
    """A way to reach a recipient; ``send`` raises ``DeliveryFailed`` (permanent or not)."""

    name: str

    def destination(self, recipient: Recipient) -> str: ...

    def send(self, notification: Notification, recipient: Recipient) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0  # waiting behind a destination that just failed this round


class Dispatcher:
    """Works through the journal's due notifications, one lane per destination; a failure defers only that
    notification (capped exponential backoff with jitter) and the rest of its destination's round."""

    def __init__(
        self,
        journal: NotifyJournal,
        channels: Mapping[str, Channel],
        recipients: Mapping[str, Recipient],
        *,
        retry: Retry = NOTIFY_RETRY,
        batch: int = 100,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.channels = dict(channels)
        self.recipients = recipients
        self.retry = retry
        self.batch = batch
        self.clock = clock

    def deliver_due(self, stop: Callable[[], bool] = lambda: False) -> DeliveryReport:
        """Deliver what is due, each destination (the SMTP relay, each webhook endpoint) in a thread of its
        own: a relay that hangs until its timeout holds up its own messages only."""
        report = DeliveryReport()
        lanes: dict[str, list[tuple[Notification, Recipient, Channel]]] = {}
        for n in self.journal.due(self.clock(), self.batch):
            recipient = self.recipients.get(n.recipient)
            channel = self.channels.get(n.channel)
            if recipient is None or channel is None or n.channel not in recipient.channels():
                # The configuration changed since the notification was queued: nobody to send it to.
                self.journal.mark_failed(n.id, self.clock(), "recipient or channel no longer configured")
                log.warning("notification dropped: no longer configured", extra=_context(n))
                report.failed += 1
                continue
            lanes.setdefault(channel.destination(recipient), []).append((n, recipient, channel))
        if not lanes:
            return report
        with ThreadPoolExecutor(max_workers=min(len(lanes), MAX_LANES), thread_name_prefix="notify") as pool:
            for lane in pool.map(lambda work: self._deliver_lane(work, stop), lanes.values()):
                report.sent += lane.sent
                report.deferred += lane.deferred
                report.failed += lane.failed
                report.skipped += lane.skipped
        return report

    def _deliver_lane(
        self, work: list[tuple[Notification, Recipient, Channel]], stop: Callable[[], bool]
    ) -> DeliveryReport:
        """One destination's due notifications in order; after a transient failure the rest wait for the
        next round (the destination is down: one timeout per round, not one per message)."""
        report = DeliveryReport()
        for index, (n, recipient, channel) in enumerate(work):
            if stop():
                break
            try:
                channel.send(n, recipient)
            except DeliveryFailed as exc:
                self._failed(n, exc, report)
                if not exc.permanent:
                    report.skipped += len(work) - index - 1
                    break
                continue
            self.journal.mark_sent(n.id, self.clock())
            log.info("notification sent", extra=_context(n))
            report.sent += 1
        return report

    def _failed(self, n: Notification, exc: DeliveryFailed, report: DeliveryReport) -> None:
        now = self.clock()
        if exc.permanent:
            self.journal.mark_failed(n.id, now, exc.reason)
            log.error("notification failed for good", extra={**_context(n), "reason": exc.reason})
            report.failed += 1
            return
        attempts = self.journal.defer(n.id, now + self.retry.defer(n.attempts + 1), exc.reason)
        if self.retry.exhausted(attempts):
            self.journal.mark_failed(n.id, now, f"gave up after {attempts} attempts: {exc.reason}")
            log.error(
                "notification given up", extra={**_context(n), "reason": exc.reason, "attempts": attempts}
            )
            report.failed += 1
        else:
            log.warning(
                "notification deferred", extra={**_context(n), "reason": exc.reason, "attempts": attempts}
            )
            report.deferred += 1


def _context(n: Notification) -> dict[str, object]:
    """What a log line says of a notification: ids and kinds, never an address or a message."""
    return {"notification": n.id, "kind": n.kind, "recipient": n.recipient, "channel": n.channel}
