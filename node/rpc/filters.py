"""Polling filters (``eth_newFilter`` & co): installed criteria and what each has not yet been told.

Bounded like geth's: a filter nobody polled for ``timeout`` seconds is dropped, at most ``limit`` are
installed at once (a clear -32005 error past that), and each queues at most ``MAX_QUEUED`` hashes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from .errors import LIMIT_EXCEEDED, RpcError

FILTER_TIMEOUT = 300.0  # geth drops a filter nobody polled for 5 minutes
MAX_FILTERS = 1_024
MAX_QUEUED = 10_000


@dataclass(frozen=True)
class LogCriteria:
    first: str | int  # a tag ("latest", "earliest", ...) or a number
    last: str | int
    addresses: tuple[bytes, ...]
    topics: tuple[tuple[bytes, ...] | None, ...]
    block_hash: bytes | None = None


@dataclass
class Filter:
    kind: str  # "block", "pending", "logs"
    criteria: LogCriteria | None = None
    next_block: int = 0  # logs: first block not yet reported
    queue: list[bytes] = field(default_factory=list)  # block / tx hashes not yet reported
    touched: float = field(default_factory=time.monotonic)


class FilterRegistry:
    def __init__(self, limit: int = MAX_FILTERS, timeout: float = FILTER_TIMEOUT) -> None:
        self._filters: dict[str, Filter] = {}
        self.limit = limit
        self.timeout = timeout

    def __len__(self) -> int:
        return len(self._filters)

    def install(self, flt: Filter) -> str:
        self.expire()
        if self.limit and len(self._filters) >= self.limit:
            raise RpcError(LIMIT_EXCEEDED, f"too many filters installed (limit {self.limit})")
        fid = "0x" + secrets.token_hex(16)
        self._filters[fid] = flt
        return fid

    def get(self, fid: str) -> Filter | None:
        self.expire()
        flt = self._filters.get(fid)
        if flt is not None:
            flt.touched = time.monotonic()
        return flt

    def uninstall(self, fid: str) -> bool:
        return self._filters.pop(fid, None) is not None

    def expire(self) -> None:
        if self.timeout <= 0:
            return  # 0: filters never expire
        now = time.monotonic()
        for fid in [f for f, flt in self._filters.items() if now - flt.touched > self.timeout]:
            del self._filters[fid]

    def on_block(self, block_hash: bytes) -> None:
        self.expire()  # once a block: idle filters go even if nobody installs or polls any
        for flt in self._filters.values():
            if flt.kind == "block" and len(flt.queue) < MAX_QUEUED:
                flt.queue.append(block_hash)

    def on_pending(self, tx_hash: bytes) -> None:
        for flt in self._filters.values():
            if flt.kind == "pending" and len(flt.queue) < MAX_QUEUED:
                flt.queue.append(tx_hash)
