"""The JSON-RPC calls of an unlock's path, one by one: pamchain's node (its own process, sealing on demand) vs
anvil, medians over the same calls in one run.

What P2's end-to-end ratio is made of: the requester's ``eth_estimateGas`` and the node's execution of
``request_unlock`` (an ``eth_call``), the trivial reads every client makes (chain id, block, nonce, tip), and
the SDK's whole ``request_unlock`` (estimate, fees, sign, send, receipt). No directory is needed.

    .venv/bin/python -m bench.rpc_latency [--calls 15] [--json bench/results/rpc_latency.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.deployer import deploy_plan

from bench import oracle_latency as ol
from support.chains import anvil
from support.world import standard_plan


def median_ms(fn: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def measure(env: Any, calls: int) -> dict[str, float]:
    """Median ms of each call on ``env``'s node, with the standard plan deployed."""
    w3 = env.w3
    client, _deployment = deploy_plan(w3, env.accounts["deployer"], standard_plan(env.accounts))
    alice = client.as_account(env.accounts["alice"])
    sender = env.accounts["alice"].address
    unlock = {"from": sender, "to": alice._to("request_unlock"), "data": alice._encode("request_unlock")}

    def rpc(method: str, *params: Any) -> Callable[[], Any]:
        return lambda: w3.provider.make_request(method, list(params))

    return {
        "eth_blockNumber": median_ms(rpc("eth_blockNumber"), calls),
        "eth_getBlockByNumber latest": median_ms(rpc("eth_getBlockByNumber", "latest", False), calls),
        "eth_getTransactionCount pending": median_ms(
            rpc("eth_getTransactionCount", sender, "pending"), calls
        ),
        "eth_maxPriorityFeePerGas": median_ms(rpc("eth_maxPriorityFeePerGas"), calls),
        "eth_call request_unlock": median_ms(rpc("eth_call", unlock, "latest"), calls),
        "eth_estimateGas request_unlock": median_ms(rpc("eth_estimateGas", unlock, "pending"), calls),
        "SDK request_unlock, to its receipt": median_ms(alice.request_unlock, max(3, calls * 2 // 3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=15, help="calls of each kind a backend")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="pamchain-rpc-latency-") as tmp:
        with ol.pamchain_process(Path(tmp) / "pamchain") as (env, _node):
            results["pamchain on-demand"] = measure(env, args.calls)
        with anvil(Path(tmp) / "anvil") as env:
            results["anvil automine"] = measure(env, args.calls)
    ours, peer = results["pamchain on-demand"], results["anvil automine"]
    print(f"| call (median ms of {args.calls}) | pamchain on-demand | anvil automine | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in ours:
        ratio = f"{ours[name] / peer[name]:.1f}x" if peer[name] > 0.05 else "-"
        print(f"| {name} | {ours[name]:.2f} | {peer[name]:.2f} | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
