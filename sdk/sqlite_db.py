"""The SDK's crash-safe SQLite files (oracle journal and light client, notifier journal, payload index): one way
to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: str | Path, schema: str) -> sqlite3.Connection:
    """``path`` opened for use from several threads (callers hold their own lock) in autocommit mode, with a
    write-ahead log and a full fsync per commit, so that a committed row survives a crash; ``schema`` (idempotent
    ``CREATE ... IF NOT EXISTS`` statements) applied."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema)
    return db
