"""Where pamchain's node process spends P1 (1 s blocks, batches of 100): py-spy samples by thread and activity.

Runs the node as a process, records it with py-spy (``pip install py-spy``; sampling, so the node runs at full
speed) while the P1 grants are sent and mined, and sums the samples by thread (the chain thread, the event
loop, the worker threads) and, on each thread, by what the innermost recognised frame was doing. Each
thread's CPU time comes from /proc (exact; py-spy's samples give the shares within a thread).

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


def thread_cpu(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each of a process's threads so far, by native thread id."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = nt.stat_cpu_seconds(task / "stat")
        except OSError:
            continue  # the thread ended
    return out


def thread_names(raw: str) -> dict[int, str]:
    """Native thread id -> thread name, from py-spy's samples ("thread (tid): name;...")."""
    return {
        int(m[1]): re.sub(r"_\d+$", "", m[2]) for m in re.finditer(r"^thread \((\d+)\): ([^;]+);", raw, re.M)
    }


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
            cpu, before = nt.cpu_seconds(proc.pid), thread_cpu(proc.pid)
            sent = nt.send_and_wait(rpc, load, batched=True)
            cpu, after = nt.cpu_seconds(proc.pid) - cpu, thread_cpu(proc.pid)
            recorder.send_signal(2)
            recorder.wait(60)
        raw = samples.read_text(errors="replace")
        by_thread = summarize(raw)
        names = thread_names(raw)
        cpu_by_thread: dict[str, float] = {}
        for tid, seconds in after.items():
            name = names.get(tid, "unnamed (native)")
            cpu_by_thread[name] = cpu_by_thread.get(name, 0.0) + seconds - before.get(tid, 0.0)
    print(
        json.dumps(
            {
                "txs": args.txs,
                "tx_per_s": round(sent.tx_per_s, 1),
                "blocks": sent.blocks,
                "cpu_ms_per_tx": round(1000 * cpu / args.txs, 3),
                "cpu_ms_per_tx_by_thread": {
                    name: round(1000 * seconds / args.txs, 3)
                    for name, seconds in sorted(cpu_by_thread.items(), key=lambda kv: -kv[1])
                },
                "samples_per_s": args.rate,
                "samples": by_thread,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
