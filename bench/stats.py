"""Summaries of repeated measurements (median/min/max) and ratios against a peer measured in the same run."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def spread(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """Median, min and max of repeated runs (the raw values too, so the JSON can be re-analysed)."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def ratio(ours: Sequence[float], peer: Sequence[float]) -> dict[str, Any]:
    """Per-run ratios ours/peer (runs paired in order: each pair was measured back to back), summarised."""
    pairs = [a / b for a, b in zip(ours, peer, strict=False) if b]
    return spread(pairs, 2) if pairs else {"median": None, "min": None, "max": None, "runs": []}
