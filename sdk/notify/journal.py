"""The notifier's SQLite journal: the follow checkpoint, the requests seen, one row per notification and its state.

A block range's notifications and the checkpoint past it are written in one transaction, and a notification is
keyed by (event, recipient, channel): replaying blocks never queues one twice, and a crash never loses one. A
crash between a successful send and the ``sent`` mark sends that one notification again (at least once); its
stable id lets the receiver drop the copy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pamchain.sdk.notify.messages import Notification
from pamchain.sdk.sqlite_db import open_database

PENDING, SENT, FAILED = "pending", "sent", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    request_id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    target TEXT NOT NULL,
    kind INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    fields TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    created REAL NOT NULL,
    done_at REAL,
    last_error TEXT,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_try);
"""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the notifier remembers of a request to address its later events (subject = the requester)."""

    request_id: int
    subject: bytes
    target: bytes
    kind: int


class NotifyJournal:
    """The notifier's state; safe to share between the loop and the health endpoint's thread."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- following ---------------------------------------------------------------------------------------

    def checkpoint(self) -> tuple[int, str] | None:
        with self._lock:
            row = self._db.execute("SELECT block, hash FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def record(
        self,
        notifications: Iterable[Notification],
        requests: Iterable[RequestInfo],
        block: int,
        block_hash: str,
        now: float,
    ) -> int:
        """Queue the notifications of a block range and move the checkpoint past it, atomically; returns how
        many were new."""
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for info in requests:
                    self._db.execute(
                        "INSERT OR IGNORE INTO requests VALUES (?, ?, ?, ?)",
                        (info.request_id, info.subject.hex(), info.target.hex(), info.kind),
                    )
                for n in notifications:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO notifications (id, event_id, recipient, channel, kind, fields,"
                        " state, next_try, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            n.id,
                            n.event_id,
                            n.recipient,
                            n.channel,
                            n.kind,
                            json.dumps(dict(n.fields)),
                            PENDING,
                            now,
                            now,
                        ),
                    )
                    added += cursor.rowcount
                self._db.execute(
                    "INSERT INTO checkpoint (id, block, hash) VALUES (1, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash",
                    (block, block_hash),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def request(self, request_id: int) -> RequestInfo | None:
        with self._lock:
            row = self._db.execute(
                "SELECT subject, target, kind FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        if row is None:
            return None
        return RequestInfo(request_id, bytes.fromhex(row[0]), bytes.fromhex(row[1]), int(row[2]))

    # -- delivering --------------------------------------------------------------------------------------

    def due(self, now: float, limit: int = 100) -> list[Notification]:
        """Pending notifications whose time has come, oldest retry time first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, kind, recipient, channel, fields, attempts FROM notifications"
                " WHERE state = ? AND next_try <= ? ORDER BY next_try, created LIMIT ?",
                (PENDING, now, limit),
            ).fetchall()
        return [Notification(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), int(r[6])) for r in rows]

    def mark_sent(self, notification_id: str, now: float) -> None:
        self._finish(notification_id, SENT, now, None)

    def mark_failed(self, notification_id: str, now: float, reason: str) -> None:
        self._finish(notification_id, FAILED, now, reason)

    def defer(self, notification_id: str, next_try: float, reason: str) -> int:
        """Count a failed attempt and set the next one; returns the attempts so far."""
        with self._lock:
            self._db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE id = ?",
                (next_try, reason, notification_id),
            )
            row = self._db.execute(
                "SELECT attempts FROM notifications WHERE id = ?", (notification_id,)
            ).fetchone()
        return int(row[0])

    def _finish(self, notification_id: str, state: str, now: float, reason: str | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE notifications SET state = ?, done_at = ?, last_error = COALESCE(?, last_error)"
                " WHERE id = ? AND state = ?",
                (state, now, reason, notification_id, PENDING),
            )

    # -- status ------------------------------------------------------------------------------------------

    def state_of(self, event_id: str, recipient: str, channel: str) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of one notification, or None if none was queued."""
        with self._lock:
            row = self._db.execute(
                "SELECT state, attempts, last_error FROM notifications"
                " WHERE event_id = ? AND recipient = ? AND channel = ?",
                (event_id, recipient, channel),
            ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]), row[2])

    def count(self, state: str) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM notifications WHERE state = ?", (state,)).fetchone()[0]
            )

    def deferred(self) -> int:
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM notifications WHERE state = ? AND attempts > 0", (PENDING,)
                ).fetchone()[0]
            )

    def oldest_pending(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(created) FROM notifications WHERE state = ?", (PENDING,)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def next_retry(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_try) FROM notifications WHERE state = ?", (PENDING,)
            ).fetchone()
        return None if row[0] is None else float(row[0])
