"""The node's Prometheus metrics: head, finality, peers, pool, sealing, RPC latency by method and errors by code.

Each node has its own registry (tests run several nodes in one process). Gauges read the node when scraped;
nothing on the sealing or RPC path waits for a scrape.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class NodeMetrics:
    """One node's metrics; ``readings`` are callables sampled at scrape time."""

    def __init__(self, readings: Mapping[str, Callable[[], float]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for name, (what, reading) in {
            "head_block": ("Number of the head block", readings["head"]),
            "finalized_block": ("Number of the finalized block", readings["finalized"]),
            "peers": ("Connected validator peers", readings["peers"]),
            "txpool_transactions": ("Transactions waiting in the pool", readings["pool"]),
            "seconds_since_last_block": ("Seconds since the head block's timestamp", readings["head_age"]),
        }.items():
            Gauge(f"pamchain_node_{name}", what, registry=self.registry).set_function(reading)
        self.seal_seconds = Histogram(
            "pamchain_node_seal_seconds", "Time to build, seal and commit a block", buckets=_SEAL_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.rpc_seconds = Histogram(
            "pamchain_node_rpc_request_seconds", "JSON-RPC request latency by method", ["method"],
            buckets=_RPC_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.rpc_errors = Counter(
            "pamchain_node_rpc_errors", "JSON-RPC error responses by code", ["code"], registry=self.registry
        )

    def observe_rpc(self, request: Any, response: Any, seconds: float, known: Container[str]) -> None:
        """One request's latency under its method (unknown names share "other": clients choose the names) and,
        if it failed, its error code."""
        method = request.get("method") if isinstance(request, dict) else None
        label = (
            method
            if isinstance(method, str) and (method in known or method.startswith("eth_subscri"))
            else "other"
        )
        self.rpc_seconds.labels(method=label).observe(seconds)
        if isinstance(response, dict) and isinstance(response.get("error"), dict):
            self.rpc_errors.labels(code=str(response["error"].get("code"))).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def head_age(timestamp: Callable[[], int]) -> Callable[[], float]:
    return lambda: max(time.time() - timestamp(), 0.0)
