"""Per-account gas budgets for zero-price transactions: a token bucket of gas per sender, refilled over a window.

On a free-gas chain a fee no longer prices spam out, so the pool rations what each permitted account may send
for nothing: at most ``burst`` gas at once, refilled at ``burst`` per ``window`` seconds (the same shape as an
API rate limit). Pure bookkeeping over an injected clock, so the rule is unit-testable without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Forget accounts whose bucket has refilled once this many are tracked: a full bucket is the same as none.
_SWEEP_AT = 4_096


@dataclass
class _Bucket:
    level: float  # gas available now
    at: float  # clock reading when ``level`` was computed


class GasBudgets:
    """Gas left per sender; ``take`` charges a transaction's gas limit or says how long to wait."""

    def __init__(self, burst: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if burst <= 0 or window <= 0:
            raise ValueError("a gas budget needs a positive burst and window")
        self.burst = burst
        self.window = window
        self._rate = burst / window  # gas per second
        self._clock = clock
        self._buckets: dict[bytes, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def available(self, sender: bytes) -> int:
        """Gas ``sender`` may still spend now."""
        bucket = self._buckets.get(sender)
        return self.burst if bucket is None else int(self._refill(bucket, self._clock()))

    def wait_for(self, sender: bytes, gas: int) -> float:
        """Seconds until ``sender`` could spend ``gas`` (0: now; inf: never, it exceeds the burst)."""
        if gas > self.burst:
            return float("inf")
        missing = gas - self.available(sender)
        return 0.0 if missing <= 0 else missing / self._rate

    def take(self, sender: bytes, gas: int) -> bool:
        """Charge ``gas`` to ``sender`` if its budget allows it now; False (and nothing charged) otherwise."""
        now = self._clock()
        bucket = self._buckets.get(sender)
        level = self.burst if bucket is None else self._refill(bucket, now)
        if gas > level:
            return False
        if bucket is None and len(self._buckets) >= _SWEEP_AT:
            self._sweep(now)
        self._buckets[sender] = _Bucket(level - gas, now)
        return True

    def _refill(self, bucket: _Bucket, now: float) -> float:
        return min(float(self.burst), bucket.level + (now - bucket.at) * self._rate)

    def _sweep(self, now: float) -> None:
        for sender in [s for s, b in self._buckets.items() if self._refill(b, now) >= self.burst]:
            del self._buckets[sender]
