"""Where the chain thread's time goes while it builds P1's blocks: admission and sealing profiled in process.

The P1 workload (``bench/workload.py``) is admitted into a ``NodeCore`` on an on-disk store, then sealed
block after block until the pool is empty, under cProfile; the profile is summarised by what the time is
spent on (EVM execution, state and storage tries, transaction/receipt tries, signature recovery, ...).

    .venv/bin/python -m bench.block_profile --txs 3000 [--dump /tmp/p.prof]
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from pamchain.node import load_genesis, make_genesis
from pamchain.node.chain import Chain
from pamchain.node.core import NodeCore, Signer
from pamchain.node.storage import SqliteStore
from pamchain.node.txpool import TxPool

from bench.workload import CHAIN_ID, GAS_LIMIT, workload

FUNDS = 10**24

# Function-name fragments (file path or function) -> group; the first match wins, checked in this order.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("signature recovery", ("eth_keys", "coincurve", "ecdsa")),
    ("transaction/receipt tries", ("ordered_trie",)),
    ("state and storage tries", ("trie/hexary", "trie/utils", "db/storage.py", "db/account.py", "journal")),
    ("EVM execution", ("eth/vm/", "eth/_utils", "opcode", "computation")),
    ("store (sqlite, staging)", ("storage.py", "sqlite")),
    ("rlp", ("rlp/",)),
)


def setup(tmp: Path, txs: int) -> tuple[NodeCore, Any]:
    load = workload(txs, CHAIN_ID)
    signer = Account.from_key(b"\x01" * 32)
    doc = make_genesis(
        [signer.address],
        CHAIN_ID,
        dict.fromkeys(load.funded, FUNDS),
        gas_limit=GAS_LIMIT,
        timestamp=int(time.time()) - 10 * txs,  # room for one block per second of sealing without waiting
    )
    chain = Chain(load_genesis(doc), SqliteStore(tmp / "chain.sqlite"))
    core = NodeCore(chain, TxPool(), Signer.from_private_key(bytes(signer.key)))
    core.admit(load.deploy)
    core.seal()
    return core, load


def seal_all(core: NodeCore) -> list[tuple[int, float]]:
    """Seal until the pool is empty; (transactions, CPU seconds) per block."""
    blocks: list[tuple[int, float]] = []
    ts = core.chain.head.timestamp
    while core.has_work():
        ts += 1
        cpu = time.process_time()
        sealed = core.seal(timestamp=ts)
        assert sealed is not None
        blocks.append((len(sealed.tx_hashes), time.process_time() - cpu))
    return blocks


def group_times(stats: pstats.Stats) -> dict[str, float]:
    """Self time per group (tottime), so that nothing is counted twice."""
    out: dict[str, float] = {}
    for (path, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{path}:{name}"
        group = next((g for g, keys in GROUPS if any(k in where for k in keys)), "other")
        if "keccak" in where or "sha3" in where:
            group = "keccak"
        out[group] = out.get(group, 0.0) + tottime
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--txs", type=int, default=3000)
    parser.add_argument("--dump", type=Path, default=None, help="write the raw cProfile data here")
    parser.add_argument("--top", type=int, default=25, help="functions listed by cumulative time")
    parser.add_argument("--no-profile", action="store_true", help="per-block CPU times only, no profiler")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pamchain-profile-") as tmp:
        core, load = setup(Path(tmp), args.txs)
        # CPU time, not wall time: the machine is shared, and other processes' load must not count.
        admit = cProfile.Profile(time.process_time)
        t0 = time.process_time()
        if not args.no_profile:
            admit.enable()
        for raw in load.txs:
            core.admit(raw)
        admit.disable()
        t_admit = time.process_time() - t0
        seal = cProfile.Profile(time.process_time)
        t0 = time.process_time()
        if not args.no_profile:
            seal.enable()
        blocks = seal_all(core)
        seal.disable()
        t_seal = time.process_time() - t0
    profiled = "" if args.no_profile else " (under cProfile)"
    print(
        f"{args.txs} txs, CPU s{profiled}: admission {t_admit:.2f}, sealing {t_seal:.2f} in {len(blocks)} blocks"
    )
    print(
        "per block (txs, CPU ms per tx): " + ", ".join(f"{n} {1000 * s / max(n, 1):.2f}" for n, s in blocks)
    )
    if args.no_profile:
        return
    for label, prof in (("admission", admit), ("sealing", seal)):
        stats = pstats.Stats(prof)
        groups = group_times(stats)
        whole = sum(groups.values())
        print(f"\n{label}: {whole:.2f} s of self time")
        for group, secs in sorted(groups.items(), key=lambda kv: -kv[1]):
            print(f"  {group:28s} {secs:7.2f} s  {100 * secs / whole:5.1f} %")
        if label == "sealing":
            stats.sort_stats("cumulative").print_stats(args.top)
    if args.dump:
        seal.dump_stats(args.dump)


if __name__ == "__main__":
    main()
