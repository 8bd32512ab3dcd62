"""Crash-safe persistent storage: a SQLite key-value store with a log index, staged one block at a time.

Why SQLite (WAL, ``synchronous=FULL``): it ships with Python, survives ``kill -9`` and power loss with a
committed transaction either fully present or absent, and its B-tree indices give the log index
(``address``/``topic`` -> log positions) range scans for free. See docs/node.md for the comparison with LMDB.

py-evm writes trie nodes, headers, receipts and the canonical-head pointer through many small
``atomic_batch()`` calls while it builds or imports a block. ``StagedDB`` collects all of them in memory and
``commit()`` writes them, plus the log index rows, node metadata and the state pruning's counts and journal
(``StateRefs``), in ONE SQLite transaction: a block is either entirely on disk or not at all, the head pointer
never names a block whose state is missing, and a state leaves the window in the commit of the block that
pushes it out, or not at all.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from .block_rows import PREFIXES as _ROW_PREFIXES
from .errors import StorageError

_SCHEMA = (
    # n: for a state trie node written since pruning began, its places in the kept states (dropped at 0);
    # NULL for everything else (blocks, receipts, code, indices) and for older nodes: never dropped.
    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, n INTEGER) WITHOUT ROWID",
    # One row per (criterion, canonical log): k = address_key() or topic_key() (64-bit hashes: 8 bytes a row
    # instead of 21-34; a collision only adds a candidate, every log read is checked against the filter),
    # block and idx = the block's number and the log's index in it, at = tx index << 16 | the log's place in
    # its receipt (where to read it). Rows exist only for canonical blocks: a reorg rewrites them in the
    # commit that moves the head.
    "CREATE TABLE IF NOT EXISTS log_pos (k INTEGER NOT NULL, block INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " at INTEGER NOT NULL, PRIMARY KEY (k, block, idx)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
    # One row per block whose state is kept (canonical or not), so that the window finds every branch's
    # blocks at a height when it passes it (what they changed is recomputed then: both states are still there).
    "CREATE TABLE IF NOT EXISTS state_journal (block INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (block, hash)) WITHOUT ROWID",
)
_MISSING = object()
# meta key: the version of the log index the store holds complete (absent: an older datadir, backfilled on open)
META_LOG_INDEX = "log_index"
LOG_INDEX_VERSION = b"2"
# meta key: the last block a backfill has indexed (a backfill stopped half-way resumes after it)
META_LOG_BACKFILL = "log_index_backfilled"
LogRow = tuple[int, int, int, int]  # (key, block, log index, tx index << 16 | place in the receipt)
LogPosition = tuple[int, int, int]  # (block, log index, tx index << 16 | place in the receipt)


@dataclass(frozen=True)
class StateRefs:
    """What one commit changes in the counts of state trie nodes (``chain/pruning.py`` decides it).

    Applied in this order: ``added`` nodes are written or their count raised (a row already there keeps a
    NULL count: never dropped), ``released`` counts lowered, ``pinned`` rows made permanent (code, which no
    count may drop even if its bytes equal a trie node's), then every released row whose count reached 0 is
    deleted; journal rows (blocks whose state is kept) are written and forgotten.
    """

    added: Sequence[tuple[bytes, bytes, int]] = ()  # (node hash, encoding, places added)
    released: Sequence[tuple[bytes, int]] = ()  # (node hash, places released)
    pinned: Sequence[bytes] = ()
    journal: Sequence[tuple[int, bytes]] = ()  # (block, block hash) of blocks whose state is now kept
    forget: Sequence[tuple[int, bytes]] = ()  # (block, block hash) of journal rows done with


class SqliteStore:
    """The durable layer: a key-value table, the log index and a small metadata table.

    Every method runs on the caller's thread; the node funnels all access through its single chain thread,
    so one connection suffices (``check_same_thread`` is off only so that a store can be closed from
    another thread at shutdown).
    """

    def __init__(self, path: str | Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        self.path = None if path is None else Path(path)
        try:
            self._conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
            if path is not None:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise StorageError(f"cannot enable WAL journal on {path} (got {mode})")
            # FULL: the WAL is fsynced at every commit, so a commit the client saw survives power loss.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
            self._conn.execute("PRAGMA wal_autocheckpoint=4000")
            for stmt in _SCHEMA:
                self._conn.execute(stmt)
            columns = [row[1] for row in self._conn.execute("PRAGMA table_info(kv)")]
            if "n" not in columns:  # a datadir from before pruning: its rows stay, uncounted
                self._conn.execute("ALTER TABLE kv ADD COLUMN n INTEGER")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open store {target}: {exc}") from exc
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        row = self._conn.execute("SELECT v FROM kv WHERE k=?", (key,)).fetchone()
        return None if row is None else row[0]

    def journal(self, block: int) -> list[bytes]:
        """Hashes of the blocks numbered ``block`` whose state is kept (one per branch)."""
        return [h for (h,) in self._conn.execute("SELECT hash FROM state_journal WHERE block=?", (block,))]

    def get_meta(self, key: str) -> bytes | None:
        row = self._conn.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        return None if row is None else row[0]

    def commit(
        self,
        puts: Iterable[tuple[bytes, bytes]],
        deletes: Iterable[bytes] = (),
        log_rows: Iterable[LogRow] = (),
        meta: Iterable[tuple[str, bytes]] = (),
        log_deletes: Iterable[LogRow] = (),
        statements: Sequence[str] = (),
        refs: StateRefs | None = None,
    ) -> None:
        """Write everything in one transaction; on any error nothing is written.

        ``log_deletes`` (rows of blocks a reorg made non-canonical) go before ``log_rows``, so a block number
        both dropped and re-added ends with the new block's rows. A put keeps the row's count (the store is
        content-addressed: a trie node written again is the same node).
        """
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                cur.executemany(
                    "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", puts
                )
                cur.executemany("DELETE FROM kv WHERE k=?", ((k,) for k in deletes))
                if refs is not None:
                    _apply_refs(cur, refs)
                cur.executemany(
                    "DELETE FROM log_pos WHERE k=? AND block=? AND idx=?", (r[:3] for r in log_deletes)
                )
                cur.executemany(
                    "INSERT OR REPLACE INTO log_pos (k, block, idx, at) VALUES (?, ?, ?, ?)", log_rows
                )
                cur.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", meta)
                for statement in statements:
                    cur.execute(statement)
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise

    def has(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k=?", (key,)).fetchone() is not None

    def values_between(self, first: bytes, last: bytes) -> list[bytes]:
        """Values of the keys in ``[first, last]``, in key order."""
        return [
            v
            for (v,) in self._conn.execute(
                "SELECT v FROM kv WHERE k BETWEEN ? AND ? ORDER BY k", (first, last)
            )
        ]

    def count_logs(self, keys: Sequence[int], first: int, last: int, cap: int) -> int:
        """How many indexed logs in ``[first, last]`` match any of ``keys``, counted up to about ``cap``."""
        total = 0
        for key in keys:
            (n,) = self._conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM log_pos WHERE k=? AND block BETWEEN ? AND ? LIMIT ?)",
                (key, first, last, cap),
            ).fetchone()
            total += n
        return total

    def log_positions(self, keys: Sequence[int], first: int, last: int) -> list[LogPosition]:
        """Positions of the canonical logs in ``[first, last]`` matching any of ``keys`` (an OR), in chain
        order."""
        found: set[LogPosition] = set()
        for key in keys:
            found.update(
                self._conn.execute(
                    "SELECT block, idx, at FROM log_pos WHERE k=? AND block BETWEEN ? AND ?",
                    (key, first, last),
                )
            )
        return sorted(found)

    def has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?", (name,)
        ).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def reader(self) -> StoreReader:
        """A reader for another thread (user calls), which never waits for the chain thread's work."""
        return StoreReader(self)

    def _locked_get(self, key: bytes) -> bytes | None:
        with self._lock:  # never in the middle of a commit on this shared connection
            return self.get(key)


def _apply_refs(cur: sqlite3.Cursor, refs: StateRefs) -> None:
    cur.executemany(
        "INSERT INTO kv (k, v, n) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET n = n + excluded.n",
        refs.added,
    )
    cur.executemany("UPDATE kv SET n = n - ? WHERE k=?", ((n, k) for k, n in refs.released))
    cur.executemany("UPDATE kv SET n = NULL WHERE k=?", ((k,) for k in refs.pinned))
    cur.executemany("DELETE FROM kv WHERE k=? AND n <= 0", ((k,) for k, _ in refs.released))
    cur.executemany("INSERT OR REPLACE INTO state_journal (block, hash) VALUES (?, ?)", refs.journal)
    cur.executemany("DELETE FROM state_journal WHERE block=? AND hash=?", refs.forget)


class StoreReader:
    """Committed key-value reads for one thread other than the chain thread, with an LRU of its own.

    A file store gets its own read-only connection (WAL: a reader neither blocks nor waits for the writer);
    an in-memory store has a single connection, shared under the store's lock (SQLite is in serialized mode).
    Keys are content hashes of trie nodes, code and headers, so any committed value read is the right one.
    """

    def __init__(self, store: SqliteStore, cache_entries: int = 65_536) -> None:
        self._store = store
        self._conn: sqlite3.Connection | None = None
        if store.path is not None:
            try:
                self._conn = sqlite3.connect(
                    store.path.absolute().as_uri() + "?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open a reader on {store.path}: {exc}") from exc
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_entries = cache_entries

    def get(self, key: bytes) -> bytes | None:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if self._conn is None:
            value = self._store._locked_get(key)
        else:
            row = self._conn.execute("SELECT v FROM kv WHERE k=?", (key,)).fetchone()
            value = None if row is None else row[0]
        if value is not None and not key.startswith(_ROW_PREFIXES):  # history, as in StagedDB
            self._cache[key] = value
            if len(self._cache) > self._cache_entries:
                for _ in range(self._cache_entries // 8):
                    self._cache.popitem(last=False)
        return value

    def has(self, key: bytes) -> bool:
        """Is ``key`` in the store now (past the cache: a pruned state's root may still be cached)?"""
        if self._conn is None:
            return self._store._locked_get(key) is not None
        return self._conn.execute("SELECT 1 FROM kv WHERE k=?", (key,)).fetchone() is not None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()


class CommittedReads:
    """Committed values read past the chain's read cache, with a small LRU of their own: for history (a
    block's receipt and transaction tries), which a catch-up reads once and would otherwise evict the state
    trie nodes block building reads over and over; a repeated log query still finds its nodes here."""

    def __init__(self, store: SqliteStore, cache_entries: int = 16_384) -> None:
        self._store = store
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_entries = cache_entries

    def __getitem__(self, key: bytes) -> bytes:
        value = self._cache.get(key)
        if value is not None:
            return value
        value = self._store.get(key)
        if value is None:
            raise KeyError(key)
        self._cache[key] = value
        if len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)
        return value


class _ReadableDB(BaseDB):
    """A ``BaseDB`` whose membership test (``key in db``) is a read: what exists is what ``[key]`` returns."""

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True


class OverlayDB(_ReadableDB):
    """A throwaway write layer over a ``StoreReader``: whatever a call writes stays here and dies with it."""

    def __init__(self, reader: StoreReader) -> None:
        self._reader = reader
        self._written: dict[bytes, bytes | None] = {}

    def __getitem__(self, key: bytes) -> bytes:
        written = self._written.get(key, _MISSING)
        if written is not _MISSING:
            if written is None:
                raise KeyError(key)
            return written  # type: ignore[return-value]
        value = self._reader.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._written[key] = value

    def __delitem__(self, key: bytes) -> None:
        if key not in self:
            raise KeyError(key)
        self._written[key] = None


def _key64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def address_key(address: bytes) -> int:
    """The log index's key for "logged by ``address``"."""
    return _key64(b"A" + address)


def topic_key(position: int, topic: bytes) -> int:
    """The log index's key for "``topic`` at ``position``"."""
    return _key64(b"T" + bytes([position]) + topic)


_TX_LOOKUP = b"transaction-hash-to-block:"  # py-evm's key: this prefix and the hash's repr, ~120 bytes
_TX_LOOKUP_ROW = b"tx:"  # + the 32-byte hash: how the node stores the same row


def _tx_lookup_row(key: bytes) -> bytes | None:
    """The node's key for py-evm's transaction-lookup key (None for any other key).

    The hash is in the key as Python's ``repr`` of bytes, ``b'...'`` (or ``b"..."``) with backslash escapes:
    ``codecs.escape_decode`` of what is inside the quotes gives the bytes back, 15x faster than
    ``ast.literal_eval`` (several lookups a transaction on the chain thread).
    """
    if not key.startswith(_TX_LOOKUP):
        return None
    return _TX_LOOKUP_ROW + codecs.escape_decode(key[len(_TX_LOOKUP) + 2 : -1])[0]


class StagedDB(_ReadableDB):
    """The key-value view py-evm sees: staged writes over a read cache over the SQLite store.

    Writes stay in memory until ``commit()``; ``discard()`` drops them (a block that failed validation
    leaves no trace). Committed values are kept in an LRU read cache because py-evm reads the same trie
    nodes over and over and a SQLite round-trip from Python costs several microseconds; a block's transactions
    and receipts rows (``block_rows.py``, ~10 kB each) are not: they are history, read once by a catch-up, and
    an entry-bounded cache of them would grow by gigabytes where one of trie nodes stays in the hundred MiB.
    """

    def __init__(self, store: SqliteStore, cache_entries: int = 262_144) -> None:
        self._store = store
        self._staged: dict[bytes, bytes | None] = {}
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_entries = cache_entries

    # -- BaseDB -----------------------------------------------------------------------------------------
    # py-evm keys a transaction's (block, index) by "transaction-hash-to-block:" and the hash's repr: 125 bytes
    # a transaction on disk. The node keeps the row under "tx:" and the hash (38 bytes); a datadir written
    # before has the long keys, read when the short one is absent and deleted with it.
    def __getitem__(self, key: bytes) -> bytes:
        row = _tx_lookup_row(key)
        if row is None:
            return self._get(key)
        try:
            return self._get(row)
        except KeyError:
            if self._staged.get(row, _MISSING) is None:
                raise  # deleted in this block
            return self._get(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._staged[_tx_lookup_row(key) or key] = value

    def __delitem__(self, key: bytes) -> None:
        row = _tx_lookup_row(key)
        if row is None:
            self._delete(key)
            return
        found = False
        for k in (row, key):
            if self._exists_raw(k):
                self._staged[k] = None
                found = True
        if not found:
            raise KeyError(key)

    def _exists_raw(self, key: bytes) -> bool:
        try:
            self._get(key)
        except KeyError:
            return False
        return True

    def _delete(self, key: bytes) -> None:
        if not self._exists_raw(key):
            raise KeyError(key)
        self._staged[key] = None

    def _get(self, key: bytes) -> bytes:
        staged = self._staged.get(key, _MISSING)
        if staged is not _MISSING:
            if staged is None:
                raise KeyError(key)
            return staged  # type: ignore[return-value]
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        value = self._store.get(key)
        if value is None:
            raise KeyError(key)
        if not key.startswith(_ROW_PREFIXES):
            self._remember(key, value)
        return value

    # -- staging ------------------------------------------------------------------------------------------
    def _remember(self, key: bytes, value: bytes) -> None:
        cache = self._cache
        cache[key] = value
        if len(cache) > self._cache_entries:
            # Drop the oldest eighth at once: cheaper than one popitem per insert.
            for _ in range(self._cache_entries // 8):
                cache.popitem(last=False)

    @property
    def has_staged(self) -> bool:
        return bool(self._staged)

    def commit(
        self,
        log_rows: Iterable[LogRow] = (),
        meta: Iterable[tuple[str, bytes]] = (),
        log_deletes: Iterable[LogRow] = (),
        refs: StateRefs | None = None,
    ) -> None:
        """Make every staged write durable in one transaction, with index rows, metadata and the state
        pruning's counts (counted nodes are written by ``refs``, not as plain puts)."""
        staged = self._staged
        counted = {k: v for k, v, _ in refs.added} if refs is not None else {}
        puts = [(k, v) for k, v in staged.items() if v is not None and k not in counted]
        deletes = [k for k, v in staged.items() if v is None]
        self._store.commit(puts, deletes, log_rows, meta, log_deletes, refs=refs)
        self._staged = {}
        for k, v in puts:
            if not k.startswith(_ROW_PREFIXES):
                self._remember(k, v)
        for k, v in counted.items():
            self._remember(k, v)
        for k in deletes:
            self._cache.pop(k, None)
        if refs is not None:
            for k, _ in refs.released:  # maybe deleted: read the store again
                self._cache.pop(k, None)

    def discard(self) -> None:
        self._staged = {}


class NodeDB(AtomicDB):
    """py-evm's ``AtomicDB`` over a ``StagedDB``: ``atomic_batch()`` semantics come from py-evm unchanged."""

    def __init__(self, store: SqliteStore) -> None:
        self.staged = StagedDB(store)
        self.store = store
        super().__init__(self.staged)

    def commit(
        self,
        log_rows: Iterable[LogRow] = (),
        meta: Iterable[tuple[str, bytes]] = (),
        log_deletes: Iterable[LogRow] = (),
        refs: StateRefs | None = None,
    ) -> None:
        self.staged.commit(log_rows, meta, log_deletes, refs)

    def discard(self) -> None:
        self.staged.discard()

    def iter_staged_keys(self) -> Iterator[bytes]:
        return iter(self.staged._staged)


def open_store(datadir: str | Path | None) -> SqliteStore:
    """Open (creating if needed) the chain store in ``datadir``; ``None`` gives a throwaway in-memory store."""
    if datadir is None:
        return SqliteStore(None)
    path = Path(datadir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create datadir {path}: {exc.strerror}") from exc
    return SqliteStore(path / "chain.sqlite")
