"""Where pamchain's node process spends P1 (1 s blocks, batches of 100): py-spy samples by thread and activity.

Runs the node as a process, records it with py-spy (``pip install py-spy``; sampling, so the node runs at full
speed) while the P1 grants are sent and mined, and sums the samples by thread (the chain thread, the event
loop, the worker threads) and, on each thread, by what the innermost recognised frame was doing.

    .venv/bin/python -m bench.node_profile --txs 3000 [--raw /tmp/spy.txt]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import node_throughput as nt
from bench.workload import CHAIN_ID, workload

# (activity, frame patterns): the innermost frame of a sample matching a pattern names its activity.
ACTIVITIES: tuple[tuple[str, str], ...] = (
    ("signature recovery", r"checked_sender|recover_public_key|ecdsa_recover"),
    ("transaction decoding", r"_decode_for_pool|TransactionBuilder\.decode|\.decode \(eth/vm/forks"),
    ("txpool", r"node/txpool\.py"),
    ("storage tries (bulk)", r"node/bulk_trie\.py|bulk_storage\.py"),
    ("transaction/receipt tries", r"ordered_trie"),
    ("block validation", r"_validate_block|validate_header|validate_seal"),
    ("state root, account trie", r"make_state_root|AccountDB\.persist"),
    ("EVM execution", r"VM\.apply_transaction|apply_computation|State\.apply_transaction"),
    ("commit to the store", r"ChainBase\._commit|SqliteStore\.commit|persist_block"),
    ("block assembly", r"Building\._finish_block|Building\._fill_block|mine_block|Building\.build_block"),
    ("receipt queries (clients polling)", r"eth_getTransactionReceipt|Queries\.receipt|block_receipts"),
    ("JSON-RPC server", r"node/rpc/"),
)


def activity(frames: list[str]) -> str:
    for frame in reversed(frames):  # innermost first
        for name, pattern in ACTIVITIES:
            if re.search(pattern, frame):
                return name
    return "other"


def summarize(raw: str) -> dict[str, dict[str, int]]:
    """Samples per thread (by name) and, per thread, per activity."""
    out: dict[str, Counter[str]] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        head, *frames = stack.split(";")
        thread = head.split(": ", 1)[1] if ": " in head else head
        thread = re.sub(r"_\d+$", "", thread)  # worker threads of one pool together
        out.setdefault(thread, Counter())[activity(frames)] += int(count)
    return {t: dict(c.most_common()) for t, c in sorted(out.items(), key=lambda kv: -sum(kv[1].values()))}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--txs", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, default=None, help="keep py-spy's raw (collapsed) samples here")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    load = workload(args.txs, CHAIN_ID)
    with tempfile.TemporaryDirectory(prefix="pamchain-spy-") as tmp:
        samples = args.raw or Path(tmp) / "samples.txt"
        with nt.pamchain_process(Path(tmp), load, "period") as (rpc, proc):
            nt.deploy(rpc, load)
            command = [spy, "record", "-p", str(proc.pid), "-o", str(samples), "-f", "raw"]
            recorder = subprocess.Popen(
                [*command, "-r", str(args.rate), "--threads", "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.5)  # py-spy attaches
            cpu = nt.cpu_seconds(proc.pid)
            sent = nt.send_and_wait(rpc, load, batched=True)
            cpu = nt.cpu_seconds(proc.pid) - cpu
            recorder.send_signal(2)
            recorder.wait(60)
        by_thread = summarize(samples.read_text())
    print(
        json.dumps(
            {
                "txs": args.txs,
                "tx_per_s": round(sent.tx_per_s, 1),
                "blocks": sent.blocks,
                "cpu_ms_per_tx": round(1000 * cpu / args.txs, 3),
                "samples_per_s": args.rate,
                "samples": by_thread,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
