# Over 500 lines on purpose: every SQL statement of the journal sits beside the schema it depends on.
"""The oracle's persistent journal (SQLite): checkpoint, actions and their states, the local expiry schedule.

Every state change is one SQLite transaction with ``synchronous=FULL``, so a crash at any point leaves either
the state before or the state after it. The action lifecycle is

    pending -> applied(outcome) -> reported

An action is *pending* until AD has been changed (or has failed for good), *applied* until its receipt is
on chain, *reported* after. Recording a block range's actions and moving the checkpoint past it happen in
the same transaction: after a restart the follower resumes exactly where the journal says, so no event is
skipped and, because actions are keyed by ``(request_id, action)``, none is recorded twice. An action whose
receipt is already on chain is recorded as reported: a journal rebuilt from the chain never re-applies it.

Pending actions are served in two lanes: removals, which always come first and never wait behind anything,
and the rest. Each action carries its own retry time, so one that keeps failing only delays itself.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.actions import DirectoryAction
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.sqlite_db import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    request_id INTEGER NOT NULL,
    action INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    subject BLOB NOT NULL,
    target BLOB NOT NULL,
    domain BLOB NOT NULL,
    payload_hash BLOB NOT NULL,
    expiry INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'reported')),
    outcome INTEGER,
    detail_hash BLOB,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    receipt_tx TEXT,
    updated REAL NOT NULL,
    due_since REAL NOT NULL DEFAULT 0,
    alarmed INTEGER NOT NULL DEFAULT 0,
    evidence TEXT,
    PRIMARY KEY (request_id, action)
);
CREATE INDEX IF NOT EXISTS actions_by_state ON actions (state, seq);
CREATE TABLE IF NOT EXISTS grants (
    request_id INTEGER PRIMARY KEY,
    subject BLOB NOT NULL,
    target BLOB NOT NULL,
    domain BLOB NOT NULL,
    expiry INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS grants_by_expiry ON grants (ended, expiry);
CREATE TABLE IF NOT EXISTS bindings (
    subject BLOB PRIMARY KEY,
    object_guid BLOB NOT NULL,
    bound_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS password_history (
    object_guid BLOB NOT NULL,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    set_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS password_history_by_account ON password_history (object_guid, set_at);
CREATE TABLE IF NOT EXISTS drift (
    target BLOB NOT NULL,
    member_hash BLOB NOT NULL,
    reported_at REAL NOT NULL,
    PRIMARY KEY (target, member_hash)
);
CREATE TABLE IF NOT EXISTS principals (
    subject BLOB PRIMARY KEY,
    enrolled_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leavers (
    subject BLOB PRIMARY KEY,
    reason INTEGER NOT NULL,
    reported_at REAL NOT NULL,
    report_tx TEXT
);
"""


EVIDENCE_RETENTION = 90 * 24 * 3600.0  # seconds the read-back evidence of a reported action is kept


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention pass removed."""

    evidence: int = 0
    grants: int = 0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled action with its progress."""

    action: DirectoryAction
    state: str
    outcome: Outcome | None
    detail_hash: bytes | None
    attempts: int
    not_before: float
    due_since: float = 0.0
    alarmed: bool = False


@dataclass(frozen=True, slots=True)
class ScheduledGrant:
    """A grant the oracle added to AD and must remove at ``expiry``, with or without the chain."""

    request_id: int
    subject: bytes
    target: bytes
    domain: bytes
    expiry: int


class Journal:
    """Thread-safe access to the journal file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = open_database(self.path, _SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Journals written by an older oracle get the columns added since (SQLite adds them in place)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(actions)")}
        for name, ddl in _ADDED_COLUMNS.items():
            if name not in columns:
                self._db.execute(f"ALTER TABLE actions ADD COLUMN {name} {ddl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- checkpoint --------------------------------------------------------------------------------------

    def checkpoint(self) -> tuple[int, str] | None:
        """The last block whose actions are all recorded, or None before the first run."""
        with self._lock:
            row = self._db.execute("SELECT block_number, block_hash FROM checkpoint WHERE id = 1").fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def record(
        self,
        actions: Iterable[DirectoryAction],
        block_number: int,
        block_hash: str,
        *,
        reported: Collection[tuple[int, int]] = frozenset(),
        hold: float = 0.0,
        enrolled: Iterable[bytes] = (),
    ) -> int:
        """Record the actions found up to ``block_number`` and move the checkpoint there, atomically.

        ``reported`` holds the ``(request_id, action)`` keys whose receipt is already on chain: they are
        recorded as done and never applied again. ``hold`` seconds delay every action but removals (a standby
        oracle leaves them to the domain's first oracle for that long). ``enrolled`` holds the directory ids
        enrolled in the oracle's domain in the range (the principals whose AD accounts it watches for leavers).
        Returns how many actions were new (an action seen again after a crash is ignored).
        """
        now = time.time()
        added = 0
        with self._tx() as db:
            seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM actions").fetchone()[0])
            for item in actions:
                seq += 1
                state = "reported" if item.key in reported else "pending"
                cursor = db.execute(
                    "INSERT OR IGNORE INTO actions (request_id, action, seq, subject, target, domain, payload_hash,"
                    " expiry, state, updated, due_since, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.request_id,
                        int(item.action),
                        seq,
                        item.subject,
                        item.target,
                        item.domain,
                        item.payload_hash,
                        item.expiry,
                        state,
                        now,
                        now,
                        now + hold if hold > 0 and item.action is not Action.REMOVE_MEMBER else 0,
                    ),
                )
                added += cursor.rowcount
                if item.action is Action.ADD_MEMBER:
                    db.execute(
                        "INSERT OR IGNORE INTO grants (request_id, subject, target, domain, expiry) VALUES (?, ?, ?, ?, ?)",
                        (item.request_id, item.subject, item.target, item.domain, item.expiry),
                    )
                elif item.action is Action.REMOVE_MEMBER:
                    db.execute("UPDATE grants SET ended = 1 WHERE request_id = ?", (item.request_id,))
            for subject in enrolled:
                db.execute(
                    "INSERT OR IGNORE INTO principals (subject, enrolled_block) VALUES (?, ?)",
                    (subject, block_number),
                )
            for request_id, action in reported:
                # Receipts of actions recorded in earlier ranges: settled, never applied (again).
                db.execute(
                    "UPDATE actions SET state = 'reported', updated = ? WHERE request_id = ? AND action = ?"
                    " AND state = 'pending'",
                    (now, request_id, action),
                )
            db.execute(
                "INSERT INTO checkpoint (id, block_number, block_hash) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash",
                (block_number, block_hash),
            )
        return added

    # -- actions -----------------------------------------------------------------------------------------

    def get(self, request_id: int, action: Action) -> JournalEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE request_id = ? AND action = ?",
                (request_id, int(action)),
            ).fetchone()
        return _entry(row) if row else None

    def due(
        self, state: str, now: float | None = None, limit: int = 100, *, lane: str | None = None
    ) -> list[JournalEntry]:
        """Actions in ``state`` whose retry time has come: removals first, then the oldest.

        ``lane`` narrows it to ``"removal"`` (REMOVE_MEMBER only) or ``"other"`` (everything else).
        """
        moment = time.time() if now is None else now
        where = {None: "", "removal": " AND action = ?", "other": " AND action != ?"}[lane]
        params: tuple[object, ...] = (state, moment) + (() if lane is None else (int(Action.REMOVE_MEMBER),))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE state = ? AND not_before <= ?{where}"
                f" ORDER BY action = {int(Action.REMOVE_MEMBER)} DESC, not_before, seq LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    def next_retry(self, *, lane: str) -> float | None:
        """When the next deferred action of ``lane`` may be tried again (None: nothing pending)."""
        op = "=" if lane == "removal" else "!="
        with self._lock:
            row = self._db.execute(
                f"SELECT MIN(not_before) FROM actions WHERE state = 'pending' AND action {op} ?",
                (int(Action.REMOVE_MEMBER),),
            ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def late_removals(self, now: float, late_after: float) -> list[JournalEntry]:
        """Removals still not confirmed ``late_after`` seconds after they fell due, not yet alarmed; also
        removals that failed for good. Security staff must hear about each once."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM actions WHERE action = ? AND alarmed = 0 AND"
                " ((state = 'pending' AND due_since <= ?) OR (state != 'pending' AND outcome = ?))",
                (int(Action.REMOVE_MEMBER), now - late_after, int(Outcome.FAILED)),
            ).fetchall()
        return [_entry(row) for row in rows]

    def late_removal_count(self, now: float, late_after: float) -> int:
        """Removals still pending ``late_after`` seconds after they fell due (alarmed or not): the gauge to page on."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM actions WHERE action = ? AND state = 'pending' AND due_since <= ?",
                (int(Action.REMOVE_MEMBER), now - late_after),
            ).fetchone()
        return int(row[0])

    def tallies(self) -> dict[str, int]:
        """Running totals for the metrics: outcomes that failed, removal alarms raised, drift members and
        leavers on record."""
        with self._lock:
            failed = self._db.execute(
                "SELECT COUNT(*) FROM actions WHERE outcome = ?", (int(Outcome.FAILED),)
            )
            failed_count = int(failed.fetchone()[0])
            alarmed = int(self._db.execute("SELECT COUNT(*) FROM actions WHERE alarmed = 1").fetchone()[0])
            drift = int(self._db.execute("SELECT COUNT(*) FROM drift").fetchone()[0])
            leavers = int(self._db.execute("SELECT COUNT(*) FROM leavers").fetchone()[0])
        return {
            "failed_actions": failed_count,
            "late_removal_alarms": alarmed,
            "drift_members": drift,
            "leavers_reported": leavers,
        }

    def mark_alarmed(self, request_id: int, action: Action) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE actions SET alarmed = 1, updated = ? WHERE request_id = ? AND action = ?",
                (time.time(), request_id, int(action)),
            )

    def oldest_pending(self) -> float | None:
        """Since when the oldest pending action has been due (for the health view and alerts)."""
        with self._lock:
            row = self._db.execute("SELECT MIN(due_since) FROM actions WHERE state = 'pending'").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def deferred(self) -> int:
        """Pending actions that failed at least once and wait for their next attempt."""
        with self._lock:
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM actions WHERE state = 'pending' AND attempts > 0"
                ).fetchone()[0]
            )

    def count(self, state: str) -> int:
        with self._lock:
            return int(
                self._db.execute("SELECT COUNT(*) FROM actions WHERE state = ?", (state,)).fetchone()[0]
            )

    def defer(self, request_id: int, action: Action, not_before: float) -> int:
        """Count a failed attempt and hold the action until ``not_before``; returns the attempts so far."""
        with self._tx() as db:
            db.execute(
                "UPDATE actions SET attempts = attempts + 1, not_before = ?, updated = ? WHERE request_id = ? AND action = ?",
                (not_before, time.time(), request_id, int(action)),
            )
            row = db.execute(
                "SELECT attempts FROM actions WHERE request_id = ? AND action = ?", (request_id, int(action))
            ).fetchone()
        return int(row[0])

    def mark_applied(
        self, request_id: int, action: Action, outcome: Outcome, detail_hash: bytes, evidence: str = ""
    ) -> None:
        """The action's outcome, with the read-back evidence its ``detail_hash`` commits to."""
        with self._tx() as db:
            db.execute(
                "UPDATE actions SET state = 'applied', outcome = ?, detail_hash = ?, evidence = ?, not_before = 0,"
                " updated = ? WHERE request_id = ? AND action = ? AND state = 'pending'",
                (int(outcome), detail_hash, evidence, time.time(), request_id, int(action)),
            )

    def prune(self, now: float, keep: float = EVIDENCE_RETENTION) -> Pruned:
        """Retention: drop what is older than ``keep`` seconds and no longer needed. The read-back evidence of
        reported actions (it names accounts and groups; its hash is on chain, so it matters only for a dispute
        within the retention period) and ended grants past their expiry. The action rows themselves stay: they
        hold only pseudonymous ids and are what makes an action never run twice."""
        cutoff = now - keep
        with self._tx() as db:
            evidence = db.execute(
                "UPDATE actions SET evidence = NULL WHERE state = 'reported' AND evidence IS NOT NULL"
                " AND updated < ?",
                (cutoff,),
            ).rowcount
            grants = db.execute("DELETE FROM grants WHERE ended = 1 AND expiry < ?", (int(cutoff),)).rowcount
        return Pruned(int(evidence), int(grants))

    def forget(self, subject: bytes) -> int:
        """Right to erasure: drop every local link from the pseudonymous id ``subject`` to its AD account (its
        objectGUID binding, the password-history digests kept for it, the evidence of its actions). The
        action rows stay, with the pseudonym only: they keep an old unlock or reset from ever re-running.
        Returns the rows changed."""
        with self._tx() as db:
            row = db.execute("SELECT object_guid FROM bindings WHERE subject = ?", (subject,)).fetchone()
            changed = 0
            if row is not None:
                changed += db.execute(
                    "DELETE FROM password_history WHERE object_guid = ?", (row[0],)
                ).rowcount
                changed += db.execute("DELETE FROM bindings WHERE subject = ?", (subject,)).rowcount
            changed += db.execute(
                "UPDATE actions SET evidence = NULL WHERE subject = ? AND evidence IS NOT NULL", (subject,)
            ).rowcount
        return int(changed)

    def evidence(self, request_id: int, action: Action) -> str | None:
        """The read-back record a receipt's detail hash commits to (kept on the DC host, never on chain)."""
        with self._lock:
            row = self._db.execute(
                "SELECT evidence FROM actions WHERE request_id = ? AND action = ?", (request_id, int(action))
            ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def mark_reported(self, request_id: int, action: Action, tx_hash: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE actions SET state = 'reported', receipt_tx = ?, updated = ? WHERE request_id = ? AND action = ?",
                (tx_hash, time.time(), request_id, int(action)),
            )

    def ensure_removal(self, grant: ScheduledGrant) -> bool:
        """Journal the removal of an expired grant (idempotent); True if it was not journalled before.

        It is due since the expiry, whatever time the oracle notices: lateness is measured from there.
        """
        with self._tx() as db:
            seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM actions").fetchone()[0]) + 1
            cursor = db.execute(
                "INSERT OR IGNORE INTO actions (request_id, action, seq, subject, target, domain, payload_hash, expiry,"
                " state, updated, due_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    grant.request_id,
                    int(Action.REMOVE_MEMBER),
                    seq,
                    grant.subject,
                    grant.target,
                    grant.domain,
                    b"",
                    grant.expiry,
                    time.time(),
                    float(grant.expiry),
                ),
            )
            db.execute("UPDATE grants SET ended = 1 WHERE request_id = ?", (grant.request_id,))
        return cursor.rowcount == 1

    # -- grants ------------------------------------------------------------------------------------------

    def expired_grants(self, now: float) -> list[ScheduledGrant]:
        """Grants past their expiry that have not been ended yet: the removals the oracle owes AD."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, subject, target, domain, expiry FROM grants WHERE ended = 0 AND expiry <= ?",
                (int(now),),
            ).fetchall()
        return [ScheduledGrant(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), int(r[4])) for r in rows]

    def next_expiry(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(expiry) FROM grants WHERE ended = 0").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def live_grants(self, now: float) -> list[ScheduledGrant]:
        """Grants the journal holds as current: what explains a privileged member during reconciliation."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, subject, target, domain, expiry FROM grants WHERE ended = 0 AND expiry > ?",
                (int(now),),
            ).fetchall()
        return [ScheduledGrant(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), int(r[4])) for r in rows]

    def other_live_grants(self, subject: bytes, target: bytes, now: float, *, besides: int) -> list[int]:
        """Live grants of the same account and group other than ``besides``: while one remains, ending a
        grant must not take the member out."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id FROM grants WHERE ended = 0 AND expiry > ? AND subject = ? AND target = ?"
                " AND request_id != ? ORDER BY request_id",
                (int(now), subject, target, besides),
            ).fetchall()
        return [int(r[0]) for r in rows]

    # -- bindings ----------------------------------------------------------------------------------------

    def binding(self, subject: bytes) -> bytes | None:
        """The objectGUID a pseudonymous id was first resolved to."""
        with self._lock:
            row = self._db.execute(
                "SELECT object_guid FROM bindings WHERE subject = ?", (subject,)
            ).fetchone()
        return bytes(row[0]) if row else None

    def bind(self, subject: bytes, object_guid: bytes) -> bytes:
        """Pin ``subject`` to ``object_guid`` unless already pinned; returns the GUID it is pinned to."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO bindings (subject, object_guid, bound_at) VALUES (?, ?, ?)",
                (subject, object_guid, time.time()),
            )
            row = db.execute("SELECT object_guid FROM bindings WHERE subject = ?", (subject,)).fetchone()
        return bytes(row[0])

    # -- password history (see password_history.py) -------------------------------------------------------

    def password_digests(self, object_guid: bytes) -> list[tuple[bytes, bytes]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT salt, digest FROM password_history WHERE object_guid = ? ORDER BY set_at DESC",
                (object_guid,),
            ).fetchall()
        return [(bytes(r[0]), bytes(r[1])) for r in rows]

    def remember_password(self, object_guid: bytes, salt: bytes, digest: bytes, keep: int) -> None:
        """Add a digest and keep only the ``keep`` most recent for the account."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO password_history (object_guid, salt, digest, set_at) VALUES (?, ?, ?, ?)",
                (object_guid, salt, digest, time.time()),
            )
            db.execute(
                "DELETE FROM password_history WHERE object_guid = ? AND rowid NOT IN (SELECT rowid FROM"
                " password_history WHERE object_guid = ? ORDER BY set_at DESC, rowid DESC LIMIT ?)",
                (object_guid, object_guid, keep),
            )

    def pending_removals(self) -> list[tuple[bytes, bytes]]:
        """(subject, target) of removals not done yet: members that are on their way out, not drift."""
        with self._lock:
            rows = self._db.execute(
                "SELECT subject, target FROM actions WHERE action = ? AND state = 'pending'",
                (int(Action.REMOVE_MEMBER),),
            ).fetchall()
        return [(bytes(r[0]), bytes(r[1])) for r in rows]

    # -- drift -------------------------------------------------------------------------------------------

    def drift_reported(self, target: bytes, member_hash: bytes) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM drift WHERE target = ? AND member_hash = ?", (target, member_hash)
            ).fetchone()
        return row is not None

    def record_drift(self, target: bytes, member_hash: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO drift (target, member_hash, reported_at) VALUES (?, ?, ?)",
                (target, member_hash, time.time()),
            )

    def clear_drift(self, target: bytes, keep: Iterable[bytes]) -> None:
        """Forget drift records of members that are gone, so a member who comes back is reported again."""
        kept = set(keep)
        with self._tx() as db:
            for (member_hash,) in db.execute(
                "SELECT member_hash FROM drift WHERE target = ?", (target,)
            ).fetchall():
                if bytes(member_hash) not in kept:
                    db.execute(
                        "DELETE FROM drift WHERE target = ? AND member_hash = ?", (target, member_hash)
                    )

    # -- leavers -----------------------------------------------------------------------------------------

    def watched_principals(self) -> set[bytes]:
        """Directory ids whose AD accounts the leaver pass checks: enrolled in the domain (from the chain's
        events), or seen in an action or a binding (journals older than the enrolment events' table)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT subject FROM principals UNION SELECT subject FROM bindings"
                " UNION SELECT subject FROM actions"
            ).fetchall()
        return {bytes(r[0]) for r in rows}

    def leaver_reported(self, subject: bytes) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM leavers WHERE subject = ?", (subject,)).fetchone()
        return row is not None

    def record_leaver(self, subject: bytes, reason: int, tx_hash: str | None) -> None:
        """The leaver report is on chain (or needed none: the principal was already suspended)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO leavers (subject, reason, reported_at, report_tx) VALUES (?, ?, ?, ?)",
                (subject, int(reason), time.time(), tx_hash),
            )

    def clear_leaver(self, subject: bytes) -> None:
        """The account is back (re-enabled, moved out of the leavers OU): a later departure is reported again."""
        if self.leaver_reported(subject):  # a write (an fsync) only when there is something to forget
            with self._tx() as db:
                db.execute("DELETE FROM leavers WHERE subject = ?", (subject,))


_COLUMNS = (
    "request_id, action, subject, target, domain, payload_hash, expiry, state, outcome, detail_hash, attempts,"
    " not_before, due_since, alarmed"
)
_ADDED_COLUMNS = {
    "due_since": "REAL NOT NULL DEFAULT 0",
    "alarmed": "INTEGER NOT NULL DEFAULT 0",
    "evidence": "TEXT",
}


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    action = DirectoryAction(
        request_id=int(row[0]),
        action=Action(int(row[1])),
        subject=bytes(row[2]),
        target=bytes(row[3]),
        domain=bytes(row[4]),
        payload_hash=bytes(row[5]),
        expiry=int(row[6]),
    )
    return JournalEntry(
        action=action,
        state=str(row[7]),
        outcome=Outcome(int(row[8])) if row[8] is not None else None,
        detail_hash=bytes(row[9]) if row[9] is not None else None,
        attempts=int(row[10]),
        not_before=float(row[11]),
        due_since=float(row[12]),
        alarmed=bool(row[13]),
    )
