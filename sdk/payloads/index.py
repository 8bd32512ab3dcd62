"""The payload store's index (SQLite): who wrote each payload, for which domain, and which requests name it.

The payload bodies stay files named by their hash; this index holds what the store learnt about them, so that
reads can be bound to the writer's domain (or, for a justification, to its request's approvers), quotas counted
per principal and unusable payloads found; and the devices' signed encryption keys.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pamchain.sdk.chain.model import Status
from pamchain.sdk.sqlite_db import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payloads (
    digest BLOB PRIMARY KEY,
    subject BLOB,
    domain BLOB,
    size INTEGER NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS payloads_by_subject ON payloads (subject);
CREATE TABLE IF NOT EXISTS resets (
    request_id INTEGER PRIMARY KEY,
    payload_hash BLOB NOT NULL,
    subject BLOB NOT NULL,
    domain BLOB NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS resets_by_hash ON resets (payload_hash);
CREATE TABLE IF NOT EXISTS scan (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS justifications (
    ref BLOB PRIMARY KEY,
    subject BLOB NOT NULL,
    domain BLOB NOT NULL,
    size INTEGER NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS justifications_by_subject ON justifications (subject);
CREATE TABLE IF NOT EXISTS justified (
    request_id INTEGER PRIMARY KEY,
    ref BLOB NOT NULL,
    subject BLOB NOT NULL,
    target BLOB NOT NULL,
    approvers BLOB NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS justified_by_ref ON justified (ref);
CREATE TABLE IF NOT EXISTS device_keys (device TEXT PRIMARY KEY, announcement TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """One payload as the index knows it; ``subject``/``domain`` are None for a file found without a record."""

    digest: bytes
    subject: bytes | None
    domain: bytes | None
    size: int
    stored_at: float


@dataclass(frozen=True, slots=True)
class ResetRequest:
    """A password-reset request seen on chain, and the last status read for it."""

    request_id: int
    payload_hash: bytes
    subject: bytes
    domain: bytes
    status: Status = Status.PENDING


@dataclass(frozen=True, slots=True)
class JustifiedRequest:
    """An elevation request seen on chain with a justification hash, and its approver set at creation."""

    request_id: int
    justification_hash: bytes
    subject: bytes
    target: bytes
    approvers: tuple[bytes, ...]
    status: Status = Status.PENDING


@dataclass(frozen=True, slots=True)
class StoredJustification:
    """A sealed justification as the index knows it, addressed by the hash its request carries."""

    ref: bytes
    subject: bytes
    domain: bytes
    size: int
    stored_at: float


class PayloadIndex:
    """Thread-safe: the store's handlers and its purge pass (in a worker thread) share one connection."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- payloads -------------------------------------------------------------------------------------------

    def get(self, digest: bytes) -> StoredPayload | None:
        with self._lock:
            row = self._db.execute(
                "SELECT digest, subject, domain, size, stored_at FROM payloads WHERE digest = ?", (digest,)
            ).fetchone()
        return None if row is None else _payload(row)

    def payloads(self) -> list[StoredPayload]:
        with self._lock:
            rows = self._db.execute(
                "SELECT digest, subject, domain, size, stored_at FROM payloads"
            ).fetchall()
        return [_payload(row) for row in rows]

    def add(self, payload: StoredPayload) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO payloads (digest, subject, domain, size, stored_at) VALUES (?, ?, ?, ?, ?)",
                (payload.digest, payload.subject, payload.domain, payload.size, payload.stored_at),
            )

    def remove(self, digest: bytes) -> None:
        with self._lock:
            self._db.execute("DELETE FROM payloads WHERE digest = ?", (digest,))

    def usage(self, subject: bytes) -> tuple[int, int]:
        """How many payloads (justifications included), and how many bytes, the principal ``subject`` holds."""
        with self._lock:
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ("
                " SELECT size FROM payloads WHERE subject = ?"
                " UNION ALL SELECT size FROM justifications WHERE subject = ?)",
                (subject, subject),
            ).fetchone()
        return int(count), int(size)

    # -- justifications -------------------------------------------------------------------------------------

    def justification(self, ref: bytes) -> StoredJustification | None:
        with self._lock:
            row = self._db.execute(
                "SELECT ref, subject, domain, size, stored_at FROM justifications WHERE ref = ?", (ref,)
            ).fetchone()
        return None if row is None else _justification(row)

    def justifications(self) -> list[StoredJustification]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ref, subject, domain, size, stored_at FROM justifications"
            ).fetchall()
        return [_justification(row) for row in rows]

    def add_justification(self, item: StoredJustification) -> bool:
        """Record a justification; False if its hash is already taken (the first writer keeps it)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO justifications (ref, subject, domain, size, stored_at) VALUES (?, ?, ?, ?, ?)",
                (item.ref, item.subject, item.domain, item.size, item.stored_at),
            )
        return cursor.rowcount == 1

    def remove_justification(self, ref: bytes) -> None:
        with self._lock:
            self._db.execute("DELETE FROM justifications WHERE ref = ?", (ref,))

    def add_justified(self, requests: Iterable[JustifiedRequest]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO justified (request_id, ref, subject, target, approvers, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.request_id,
                        r.justification_hash,
                        r.subject,
                        r.target,
                        b"".join(r.approvers),
                        int(r.status),
                    )
                    for r in requests
                ],
            )

    def justified_naming(self, item: StoredJustification) -> list[JustifiedRequest]:
        """The requests of the justification's writer that carry its hash."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request_id, ref, subject, target, approvers, status FROM justified"
                " WHERE ref = ? AND subject = ? ORDER BY request_id",
                (item.ref, item.subject),
            ).fetchall()
        return [
            JustifiedRequest(
                int(r[0]),
                bytes(r[1]),
                bytes(r[2]),
                bytes(r[3]),
                tuple(bytes(r[4])[i : i + 32] for i in range(0, len(r[4]), 32)),
                Status(int(r[5])),
            )
            for r in rows
        ]

    def set_justified_status(self, request_id: int, status: Status) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE justified SET status = ? WHERE request_id = ?", (int(status), request_id)
            )

    # -- device encryption keys -----------------------------------------------------------------------------

    def device_key(self, device: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT announcement FROM device_keys WHERE device = ?", (device,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_device_key(self, device: str, announcement: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO device_keys (device, announcement) VALUES (?, ?)",
                (device, announcement),
            )

    # -- password-reset requests ------------------------------------------------------------------------------

    def next_block(self, default: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT next_block FROM scan WHERE id = 0").fetchone()
        return default if row is None else int(row[0])

    def add_resets(self, resets: Iterable[ResetRequest], next_block: int) -> None:
        """Record the requests of a scanned block range and move the scan past it, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO resets (request_id, payload_hash, subject, domain, status)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(r.request_id, r.payload_hash, r.subject, r.domain, int(r.status)) for r in resets],
                )
                self._db.execute("INSERT OR REPLACE INTO scan (id, next_block) VALUES (0, ?)", (next_block,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def resets_naming(self, payload: StoredPayload) -> list[ResetRequest]:
        """The requests that name ``payload``: only its writer's own (anyone may copy a hash into a request)."""
        query = "SELECT request_id, payload_hash, subject, domain, status FROM resets WHERE payload_hash = ?"
        args: tuple[bytes, ...] = (payload.digest,)
        if payload.subject is not None:
            query += " AND subject = ?"
            args += (payload.subject,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY request_id", args).fetchall()
        return [
            ResetRequest(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), Status(int(r[4]))) for r in rows
        ]

    def set_status(self, request_id: int, status: Status) -> None:
        with self._lock:
            self._db.execute("UPDATE resets SET status = ? WHERE request_id = ?", (int(status), request_id))


def _justification(row: tuple[bytes, bytes, bytes, int, float]) -> StoredJustification:
    ref, subject, domain, size, stored_at = row
    return StoredJustification(bytes(ref), bytes(subject), bytes(domain), int(size), float(stored_at))


def _payload(row: tuple[bytes, bytes | None, bytes | None, int, float]) -> StoredPayload:
    digest, subject, domain, size, stored_at = row
    return StoredPayload(
        bytes(digest),
        None if subject is None else bytes(subject),
        None if domain is None else bytes(domain),
        int(size),
        float(stored_at),
    )
