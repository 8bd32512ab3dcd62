"""The one benchmark command: runs P1-P4, prints a table of figures and ratios to peers, writes JSON.

    .venv/bin/python -m bench                 # P1 (10,000 txs, 3 repeats), P2/P3 (Samba DC), ~30-40 min
    .venv/bin/python -m bench --quick         # every benchmark on tiny inputs (CI: tests/bench), < 2 min
    .venv/bin/python -m bench --scale         # adds P4 (1,000,000 grants; hours) and RSS at 10k/100k blocks
    .venv/bin/python -m bench --only p1 --txs 2000 --repeat 1
    .venv/bin/python -m bench --only cli      # read-only `pamchain` commands: median wall time, ~1 min

Every pamchain figure is measured in the same run as its peers (anvil, raw py-evm, eth-tester) and reported
as a ratio, with the median, min and max over the repeats; absolute figures drift between machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"
SECTIONS = ("p1", "p2", "p4", "cli")  # p2 covers P2 (unlock) and P3 (expiry): one DC, one oracle run


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    from eth_hash.auto import keccak
    from eth_keys.backends import get_backend

    from support.anvil import ANVIL_PACKAGE

    keccak(b"")  # makes eth-hash pick its backend
    return {
        "python": platform.python_version(),
        "cpus": __import__("os").cpu_count(),
        "py-evm": version("py-evm"),
        "web3": version("web3"),
        "eth-tester": version("eth-tester"),
        "anvil": ANVIL_PACKAGE,
        "ecc_backend": type(get_backend()).__name__,
        "keccak_backend": type(getattr(keccak.hasher, "__self__", keccak.hasher)).__name__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# ------------------------------------------------------------------------------------------------- table
def print_table(results: dict[str, Any], out: Any = sys.stdout) -> None:
    def row(*cells: Any) -> None:
        print("| " + " | ".join(str(c) for c in cells) + " |", file=out)

    if results.get("cli"):
        from bench import cli

        cli.print_table(results["cli"], out)
    p1 = results.get("p1")
    if p1:
        print(
            f"\nP1 throughput: {p1['txs']} grant txs from {p1['senders']} senders "
            f"(eth-tester: {p1['eth_tester_txs']}), {p1['repeat']} repeat(s); tx/s to the last receipt",
            file=out,
        )
        row("configuration", "tx/s median", "min", "max", "ratio to peer (median [min-max])")
        row("---", "---:", "---:", "---:", "---")
        for name, fig in p1["figures"].items():
            s = fig["tx_per_s"]
            vs = "; ".join(
                f"{r['median']}x {peer} [{r['min']}-{r['max']}]" for peer, r in fig.get("vs", {}).items()
            )
            if fig.get("failed_runs"):
                vs = (vs + "; " if vs else "") + f"{len(fig['failed_runs'])} run(s) {fig['failed_runs'][0]}"
            if s is None:
                row(name, "-", "-", "-", vs)
            else:
                row(name, s["median"], s["min"], s["max"], vs)
    p2 = results.get("p2")
    if p2:
        print("\nP2 unlock end to end / P3 expiry precision (real Samba DC; ms)", file=out)
        row("backend", "metric", "p50", "p99", "min", "max", "n", "p50 ratio to anvil")
        row("---", "---", "---:", "---:", "---:", "---:", "---:", "---:")
        for backend, metrics in p2.items():
            if not isinstance(metrics, dict):
                continue
            for metric, s in metrics.items():
                if isinstance(s, dict) and "p50_ms" in s:
                    rel = s.get("p50_vs_anvil", "")
                    row(backend, metric, s["p50_ms"], s["p99_ms"], s["min_ms"], s["max_ms"], s["n"], rel)
    p4 = results.get("p4")
    if p4:
        print(f"\nP4 scale: {p4['grants']} grants in {p4['blocks']} blocks", file=out)
        row("figure", "value")
        row("---", "---:")
        for key, value in p4["figures"].items():
            row(key, value)


# ---------------------------------------------------------------------------------------------- P2 / P3
def run_oracle(iterations: int, tmp: Path) -> dict[str, Any]:
    """P2 unlock end to end and P3 expiry precision on one real Samba DC (bench/oracle_latency.py's parts):
    pamchain on demand, with 1 s blocks and stopped mid-grant, against anvil automine, each p50 as a ratio."""
    import logging

    from bench import oracle_latency as ol

    logging.getLogger("pamchain").addHandler(logging.NullHandler())  # the daemon's warnings are expected
    logging.getLogger("pamchain").propagate = False
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"iterations": iterations, "oracle_poll_interval_s": ol.POLL}
    with ol.samba(tmp) as (_, oracle_dir, observer):
        results["pamchain on-demand"], results["anvil automine"] = ol.on_demand_against_anvil(
            tmp, oracle_dir, observer, iterations
        )
        with ol.pamchain_process(tmp / "period", period=1) as (env, _):
            results["pamchain 1s-blocks"] = ol.run_backend(
                "period", env, oracle_dir, observer, iterations, tmp, period=1
            )
        with ol.pamchain_process(tmp / "stopped") as (env, handle):
            stopped = ol.run_backend("stopped", env, oracle_dir, observer, 1, tmp, node=handle)
            results["pamchain node stopped"] = {"expiry_node_stopped": stopped["expiry_node_stopped"]}
    peer = results["anvil automine"]
    for backend, metrics in results.items():
        if not isinstance(metrics, dict) or backend == "anvil automine":
            continue
        for metric, s in metrics.items():
            base = peer.get(metric)  # expiry with the node stopped has no anvil counterpart: no ratio
            if base and base["p50_ms"]:
                s["p50_vs_anvil"] = round(s["p50_ms"] / base["p50_ms"], 2)
    return results


# -------------------------------------------------------------------------------------------------- main
def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"command": "python -m bench " + " ".join(sys.argv[1:]), "env": environment()}
    sections = args.only or (["p1", "p2", "cli", "p4"] if args.scale else ["p1", "p2", "cli"])
    if "p1" in sections:
        from bench import node_throughput

        txs = args.txs or (200 if args.quick else 10_000)
        repeat = args.repeat or (1 if args.quick else 3)
        raw = node_throughput.run(txs, repeat, tmp, tester_txs=100 if args.quick else None)
        results["p1"] = node_throughput.summarize_throughput(raw)
        _save(results, args.json)  # a long run keeps what it measured if a later section fails
    if "p2" in sections:
        results["p2"] = run_oracle(2 if args.quick else args.iterations, tmp / "oracle")
        _save(results, args.json)
    if "cli" in sections:
        from bench import cli

        results["cli"] = cli.run(2 if args.quick else args.cli_runs, tmp / "cli")
        _save(results, args.json)
    if "p4" in sections:
        from bench import scale

        rss_blocks = tuple(int(n) for n in args.rss_blocks.split(",")) if args.rss_blocks else ()
        results["p4"] = scale.run(
            args.grants or (600 if args.quick else 1_000_000),
            tmp / "scale",
            args.quick,
            rss_blocks,
            None if args.state_history == 0 else args.state_history,
        )
    return results


def _save(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny inputs: proves every benchmark runs (CI)")
    parser.add_argument("--scale", action="store_true", help="also P4 (long: 1,000,000 grants)")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--txs", type=int, default=None, help="P1 transactions (default 10,000)")
    parser.add_argument("--repeat", type=int, default=None, help="P1 repeats (default 3)")
    parser.add_argument("--iterations", type=int, default=30, help="P2/P3 iterations (default 30)")
    parser.add_argument("--grants", type=int, default=None, help="P4 grants (default 1,000,000)")
    parser.add_argument("--rss-blocks", default=None, help="P4 chain lengths for RSS (default 10000,100000)")
    parser.add_argument(
        "--state-history",
        type=int,
        default=128,
        help="P4: blocks whose state the node keeps (default 128, the node's; 0: all, an archive)",
    )
    parser.add_argument("--cli-runs", type=int, default=10, help="runs of each CLI command (default 10)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"output (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every node/anvil process is stopped and the temp dir removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="pamchain-bench-") as tmp:
        results = run(args, Path(tmp))
    print_table(results)
    _save(results, args.json)
    print(f"\nwritten to {args.json}")
    return results


if __name__ == "__main__":
    main()
