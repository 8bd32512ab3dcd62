"""Validator network: block propagation, unlock end to end on 3 validators with 1 s blocks, resync speed.

    .venv/bin/python -m bench.network [--quick] [--blocks N] [--iterations N] [--no-samba] [--period S]
        [--only-unlock] [--no-expiry] [--json PATH]

1. Propagation: 3 validator processes on loopback, 1 s blocks (empty blocks too); a WebSocket ``newHeads``
   subscription on every node; per block, the time from its first appearance on any node to its appearance
   on the last node (the sealer publishes just after sending it to its peers, so this is seal -> everywhere).
2. Unlock end to end (as bench/oracle_latency.py, real Samba AD DC): request sent to validator 0 -> AD
   unlocked by the oracle, which acts only on the ``finalized`` tag -> receipt visible; 3 validators, 1 s
   period, no empty blocks (an idle chain).
3. Resync: a node that was down while the chain grew by N blocks (10,000; 1,000 with --quick) starts and
   catches up from one peer, validating every block; blocks/s until its head equals the peer's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from eth_keys import keys
from eth_typing import Address
from pamchain.node.chain import Chain
from pamchain.node.genesis import load_genesis
from pamchain.node.storage import open_store

from bench.oracle_latency import summary
from support.cluster import make_cluster, wait_for


async def _watch_heads(urls: list[str], duration: float) -> dict[str, list[float]]:
    """hash -> arrival times (monotonic) on each node."""
    arrivals: dict[str, list[float]] = {}

    async def follow(session: aiohttp.ClientSession, url: str) -> None:
        async with session.ws_connect(url.replace("http", "ws")) as ws:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
            end = time.monotonic() + duration
            while time.monotonic() < end:
                try:
                    msg = await asyncio.wait_for(ws.receive_json(), max(0.1, end - time.monotonic()))
                except TimeoutError:
                    break
                now = time.monotonic()
                result = msg.get("params", {}).get("result")
                if result:
                    arrivals.setdefault(result["hash"], []).append(now)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(follow(session, u) for u in urls))
    return arrivals


def propagation(tmp: Path, seconds: float) -> dict[str, Any]:
    cluster = make_cluster(tmp / "prop", 3)
    try:
        for m in cluster.members:
            cluster.start(m, wait=False)
        for m in cluster.members:
            cluster.wait_up(m)
        wait_for(lambda: all(int(m.rpc.call("net_peerCount"), 16) == 2 for m in cluster.members), 30, "mesh")
        wait_for(lambda: cluster.members[0].rpc.number() >= 3, 30, "blocks")
        arrivals = asyncio.run(_watch_heads([m.rpc.url for m in cluster.members], seconds))
        spreads = [max(t) - min(t) for t in arrivals.values() if len(t) == 3]
        head = cluster.members[0].rpc.number()
        final = cluster.members[0].rpc.number("finalized")
        return {
            "validators": 3,
            "period_s": 1,
            "block_to_all_validators": summary(spreads),
            "blocks_seen_on_all": len(spreads),
            "finality_lag_blocks": head - final,
            "head": head,
            "finalized": final,
            "status": cluster.members[0].rpc.call("clique_status"),
        }
    finally:
        cluster.stop_all()


def unlock_latency(tmp: Path, iterations: int, period: int = 1, expiries: bool = True) -> dict[str, Any]:
    from pamchain.node.genesis import contract_address
    from pamchain.sdk.chain.client import connect
    from pamchain.sdk.oracle.follower import Finality

    from bench.oracle_latency import run_backend, samba
    from support.chains import ChainEnv, test_accounts

    accounts = test_accounts()
    deployer = bytes.fromhex(accounts["deployer"].address[2:])
    # No empty blocks: an idle chain seals a request at once and the next signer's block (due a period
    # later, sealed because the request is not final yet) makes it final; with a block every second the
    # request would first wait for the next one.
    cluster = make_cluster(
        tmp / "unlock", 3, allow_empty=False, period=period,
        extra_alloc={a.address: 10**24 for a in accounts.values()},
        genesis_options={
            "allowlist": [accounts["deployer"].address],
            "permission_contract": "0x" + contract_address(deployer, 1).hex(),  # PamChain, after the Council
        },
    )  # fmt: skip
    try:
        for m in cluster.members:
            cluster.start(m, wait=False)
        for m in cluster.members:
            cluster.wait_up(m)
        wait_for(lambda: all(int(m.rpc.call("net_peerCount"), 16) == 2 for m in cluster.members), 30, "mesh")
        url = cluster.members[0].rpc.url
        env = ChainEnv("pamchain-3-validators", url, connect(url), accounts, Finality())
        with samba(tmp) as (_, oracle_dir, observer):
            return run_backend(
                "net3", env, oracle_dir, observer, iterations, tmp, period=period, expiries=expiries
            )
    finally:
        cluster.stop_all()


def resync(tmp: Path, blocks: int) -> dict[str, Any]:
    """Node 0 holds ``blocks`` blocks (sealed in turn by the 3 signers); node 2 starts empty and syncs."""
    cluster = make_cluster(
        tmp / "resync",
        3,
        allow_empty=False,
        genesis_options={"timestamp": int(time.time()) - 2 * blocks - 100},
    )
    source, late = cluster.members[0], cluster.members[2]
    genesis = load_genesis(cluster.genesis)
    chain = Chain(genesis, open_store(source.datadir))
    signers = sorted(cluster.members, key=lambda m: bytes.fromhex(m.signer.address[2:]))
    started = time.perf_counter()
    for n in range(1, blocks + 1):
        key = keys.PrivateKey(bytes(signers[n % 3].signer.key))
        chain.build_block(
            [], Address(key.public_key.to_canonical_address()), key, timestamp=genesis.timestamp + n
        )
    build_s = time.perf_counter() - started
    head_hash = "0x" + chain.head.hash.hex()
    chain.store.close()
    try:
        cluster.start(source)
        cluster.start(late)
        t0 = time.perf_counter()
        wait_for(lambda: late.rpc.block("latest")["hash"] == head_hash, 3600, "resync", interval=0.2)
        elapsed = time.perf_counter() - t0
        return {
            "blocks": blocks,
            "transactions_per_block": 0,
            "seconds": round(elapsed, 1),
            "blocks_per_s": round(blocks / elapsed, 1),
            "source_build_s": round(build_s, 1),
            "note": "one peer serving; every block fully validated and executed (Prague, seal, recency, state root)",
        }
    finally:
        cluster.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--blocks", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="propagation watch time")
    parser.add_argument("--no-samba", action="store_true", help="skip the unlock end-to-end part")
    parser.add_argument(
        "--period",
        type=int,
        default=1,
        help="Clique period of the unlock part (0: on demand, same-second blocks)",
    )
    parser.add_argument("--only-unlock", action="store_true", help="the unlock end-to-end part alone")
    parser.add_argument("--no-expiry", action="store_true", help="unlocks only, no grant expiries")
    parser.add_argument("--json", type=Path, default=Path("bench/results/network.json"))
    args = parser.parse_args()
    blocks = args.blocks or (1_000 if args.quick else 10_000)
    iterations = args.iterations or (3 if args.quick else 20)
    seconds = args.seconds or (20 if args.quick else 90)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pamchain-net-bench-") as name:
        tmp = Path(name)
        if not args.only_unlock:
            results["propagation"] = propagation(tmp, seconds)
            print(json.dumps(results["propagation"], indent=1))
        if not args.no_samba:
            name = f"unlock_3_validators_{args.period}s"
            results[name] = unlock_latency(tmp, iterations, args.period, not args.no_expiry)
            print(json.dumps(results[name], indent=1))
        if not args.only_unlock:
            results["resync"] = resync(tmp, blocks)
            print(json.dumps(results["resync"], indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
