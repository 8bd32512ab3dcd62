"""Where an unlock's time goes: one node, one oracle, one Samba DC, each stage of request -> seal -> oracle ->
LDAP -> receipt timed by wrapping the functions that do it, and every JSON-RPC request the requester and the
oracle make timed by method.

    .venv/bin/python -m bench.latency_trace [--iterations 8] [--seal-mode on-demand|period] [--poll]
        [--backend in-process|process|anvil] [--each]

``in-process`` (the default) runs the node in this process, so its admission and sealing are traced too (its
threads share this interpreter); ``process`` runs it as its own process, as P2 does, and ``anvil`` runs the
same unlocks on anvil: comparing the two shows, request by request, where pamchain's extra time goes.

Prints, per stage, the median start and end (ms after the request was sent) of its first run in each unlock,
and the median total ms and number of runs per unlock; then the median gaps nobody was working in (a stage
waiting on a timer shows up there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.transactions import Sender
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import Executor
from pamchain.sdk.oracle.follower import Follower
from pamchain.sdk.oracle.reporter import Reporter
from web3 import HTTPProvider

from bench import oracle_latency as ol
from support.chains import anvil, pamchain_node

SPANS: list[tuple[str, float, float]] = []
_LOCK = threading.Lock()


def _wrap(owner: Any, name: str, label: str) -> Callable[[], None]:
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with _LOCK:
                SPANS.append((label, start, time.perf_counter()))

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def _caller() -> str:
    """Who sends a request: the requester (the main thread) or the oracle (its threads)."""
    name = threading.current_thread().name
    return (
        "client"
        if threading.current_thread() is threading.main_thread()
        else ("oracle" if "oracle" in name else name)
    )


def _wrap_rpc() -> Callable[[], None]:
    """Every HTTP JSON-RPC request, labelled ``rpc: <method>`` (a batch by its methods)."""
    original = HTTPProvider.make_request
    original_batch = HTTPProvider.make_batch_request

    def timed(self: Any, method: Any, params: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, method, params)
        finally:
            with _LOCK:
                SPANS.append((f"rpc {_caller()}: {method}", start, time.perf_counter()))

    def timed_batch(self: Any, requests: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_batch(self, requests)
        finally:
            label = f"rpc {_caller()} batch: " + json.dumps(sorted({str(m) for m, _ in requests}))
            with _LOCK:
                SPANS.append((label, start, time.perf_counter()))

    HTTPProvider.make_request = timed  # type: ignore[method-assign]
    HTTPProvider.make_batch_request = timed_batch  # type: ignore[method-assign,assignment]

    def undo() -> None:
        HTTPProvider.make_request = original  # type: ignore[method-assign]
        HTTPProvider.make_batch_request = original_batch  # type: ignore[method-assign]

    return undo


@contextlib.contextmanager
def traced(node_in_process: bool) -> Iterator[None]:
    targets: list[tuple[Any, str, str]] = [
        (Sender, "_estimate", "client: estimate gas"),
        (Sender, "wait", "client: wait for receipt"),
        (OracleDaemon, "run_once", "oracle: tick"),
        (Follower, "poll", "oracle: follow (final block, events, journal)"),
        (Executor, "apply", "oracle: apply (status read, LDAP, read-back, journal)"),
        (LdapDirectory, "unlock", "oracle: LDAP unlock + read-back"),
        (Reporter, "run_due", "oracle: report (check, estimate, send, wait)"),
        (PamClient, "post_receipt", "oracle: post receipt"),
    ]
    if node_in_process:
        from pamchain.node.core import NodeCore

        targets += [(NodeCore, "submit", "node: admit tx"), (NodeCore, "seal", "node: seal block")]
    undo = [_wrap(*t) for t in targets] + [_wrap_rpc()]
    try:
        yield
    finally:
        for u in undo:
            u()


def run(iterations: int, seal_mode: str, heads: bool, backend: str, each: bool = False) -> None:
    marks: list[tuple[float, float, float]] = []
    original = ol.run_backend
    period = 1 if seal_mode == "period" else 0

    def timed_unlocks(env: Any) -> None:
        SPANS.clear()
        original(
            "trace", env, oracle_dir, observer, iterations, tmp, expiries=False, heads=heads, period=period,
            marks=marks,
        )  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="pamchain-trace-") as name, traced(backend == "in-process"):
        tmp = Path(name)
        with ol.samba(tmp) as (_, oracle_dir, observer):
            if backend == "anvil":
                if seal_mode == "period":
                    raise SystemExit("anvil is traced with automine only")
                with anvil(tmp / "anvil") as env:
                    timed_unlocks(env)
            elif backend == "process":
                with ol.pamchain_process(tmp / "node", period=period) as (env, _node):
                    timed_unlocks(env)
            else:
                options: dict[str, Any] = {"period": period} if period else {}
                with pamchain_node(tmp / "node", seal_mode=seal_mode, **options) as env:
                    timed_unlocks(env)
    report(marks, each)


def report(marks: list[tuple[float, float, float]], each: bool = False) -> None:
    rows: dict[str, list[tuple[float, float]]] = {}
    totals: dict[str, list[tuple[float, int]]] = {}
    busy_gaps: list[float] = []
    for t0, t_ad, t_receipt in marks:
        inside = sorted((s for s in SPANS if t0 <= s[1] < t_receipt), key=lambda s: s[1])
        seen: dict[str, list[float]] = {}
        nth: dict[str, int] = {}
        for label, start, end in inside:
            if label.startswith("rpc") and each:  # every request in order: "rpc oracle: eth_call #2"
                nth[label] = nth.get(label, 0) + 1
                label = f"{label} #{nth[label]}"
            if label in seen:  # the first occurrence in this unlock's window; the rest count in the total
                seen[label][0] += 1000 * (end - start)
                seen[label][1] += 1
                continue
            seen[label] = [1000 * (end - start), 1]
            rows.setdefault(label, []).append((1000 * (start - t0), 1000 * (end - t0)))
        for label, (total, count) in seen.items():
            totals.setdefault(label, []).append((total, int(count)))
        covered, cursor, idle = sorted((s[1], s[2]) for s in inside), t0, 0.0
        for start, end in covered:
            if start > cursor:
                idle += start - cursor
            cursor = max(cursor, end)
        idle += max(t_receipt - cursor, 0.0)
        busy_gaps.append(1000 * idle)
        rows.setdefault("= AD unlocked (observer)", []).append((1000 * (t_ad - t0),) * 2)
        rows.setdefault("= receipt seen (observer)", []).append((1000 * (t_receipt - t0),) * 2)
    print(
        f"\n{'stage (first run in each unlock)':<58}{'start ms':>10}{'end ms':>10}{'total ms':>10}{'runs':>6}"
        f"{'n':>4}"
    )
    for label, spans in sorted(rows.items(), key=lambda kv: statistics.median(s[0] for s in kv[1])):
        start = statistics.median(s[0] for s in spans)
        end = statistics.median(s[1] for s in spans)
        per_unlock = totals.get(label, [(end - start, 1)])
        total = statistics.median(t for t, _ in per_unlock)
        runs = statistics.median(c for _, c in per_unlock)
        print(f"{label[:57]:<58}{start:>10.1f}{end:>10.1f}{total:>10.1f}{runs:>6g}{len(spans):>4}")
    print(f"\nno traced stage running, median per unlock: {statistics.median(busy_gaps):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--seal-mode", choices=("on-demand", "period"), default="on-demand")
    parser.add_argument("--poll", action="store_true", help="no newHeads subscription: the oracle polls")
    parser.add_argument("--each", action="store_true", help="every JSON-RPC request in order, not the first")
    parser.add_argument(
        "--backend",
        choices=("in-process", "process", "anvil"),
        default="in-process",
        help="the node in this process (its stages traced), as its own process, or anvil",
    )
    args = parser.parse_args()
    import logging

    logging.getLogger("pamchain").addHandler(logging.NullHandler())
    logging.getLogger("pamchain").propagate = False
    run(args.iterations, args.seal_mode, not args.poll, args.backend, args.each)


if __name__ == "__main__":
    main()
