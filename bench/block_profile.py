"""Where the chain thread's time goes while it builds P1's blocks: admission and sealing profiled in process.

The P1 workload (``bench/workload.py``) is admitted into a ``NodeCore`` on an on-disk store, then sealed
block after block until the pool is empty, under cProfile (CPU time: the machine is shared); the profile is
summarised by phase (EVM execution, state root, transaction/receipt tries, validation, commit; for admission:
signature recovery, decoding, the pool).

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

# Phases of the work by where they sit in the call tree: (label, file fragment, function name); a phase's time is
# the cumulative time of its entry function (they do not nest), what is left of the whole is "other".
SEALING: tuple[tuple[str, str, str], ...] = (
    ("EVM execution (transactions, receipts)", "eth/vm/base.py", "apply_transaction"),
    ("state root: storage and account tries", "node/chain/bulk_storage.py", "make_state_root"),
    ("transaction/receipt tries", "node/chain/vms.py", "set_block_transactions_and_withdrawals"),
    ("block validation (transaction root)", "", "validate_block"),
    ("requests (EIP-7685) and block copies", "prague/__init__.py", "block_postprocessing"),
    ("commit to SQLite (one transaction)", "node/chain/base.py", "commit"),
    ("persist block (headers, tx index)", "eth/db/chain.py", "persist_block"),
)
ADMISSION: tuple[tuple[str, str, str], ...] = (
    ("signature recovery", "node/chain/importing.py", "checked_sender"),
    ("transaction decoding (rlp)", "eth/vm/forks/berlin/transactions.py", "decode"),
    ("txpool", "node/txpool.py", "add"),
)


def phase_times(
    stats: pstats.Stats, phases: tuple[tuple[str, str, str], ...], whole: str
) -> dict[str, float]:
    """Seconds per phase (cumulative time of its entry function) and "other" (the rest of ``whole``)."""
    out: dict[str, float] = dict.fromkeys([p[0] for p in phases], 0.0)
    total = 0.0
    for (path, _line, name), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if name == whole and "node/" in path:
            total = max(total, cumtime)
        for label, fragment, function in phases:
            if name.lstrip("_") == function and fragment in path:
                out[label] = max(out[label], cumtime)  # one entry per phase: overrides must not count twice
    out["other"] = max(0.0, total - sum(out.values()))
    return out


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
    for label, prof, phases, whole in (
        ("admission", admit, ADMISSION, "admit"),
        ("sealing", seal, SEALING, "build_block"),
    ):
        stats = pstats.Stats(prof)
        times = phase_times(stats, phases, whole)
        total = sum(times.values())
        print(f"\n{label}: {total:.2f} CPU s under cProfile")
        for phase, secs in sorted(times.items(), key=lambda kv: -kv[1]):
            print(f"  {phase:42s} {secs:7.2f} s  {100 * secs / max(total, 1e-9):5.1f} %")
        if label == "sealing" and args.top:
            stats.sort_stats("cumulative").print_stats(args.top)
    if args.dump:
        seal.dump_stats(args.dump)


if __name__ == "__main__":
    main()
