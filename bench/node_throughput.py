"""P1 throughput: pre-signed grant transactions over JSON-RPC to the last receipt, pamchain's node vs its peers.

Configurations, all fed the same pre-signed transactions (``bench/workload.py``) in one run:

- pamchain's node as a process on an on-disk datadir, sealing on demand and with 1 s blocks;
- anvil automine (the peer of seal-on-demand) and anvil ``--block-time 1`` (the peer of 1 s blocks), same
  block gas limit, ``--prune-history 64`` (see ``anvil_chain``);
- each of those fed one HTTP request per transaction ("single") and JSON-RPC batches of 100 ("batch");
- raw py-evm ``MiningChain.mine_all`` in memory (what the node's execution engine can do with no node around);
- eth-tester (py-evm) through web3.py, automine, one ``send_raw_transaction`` per transaction.

tx/s = transactions / (first send -> receipt of every sender's last transaction). Standalone:

    .venv/bin/python -m bench.node_throughput [--txs 10000]
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import requests
from eth_account import Account
from pamchain.node import make_genesis
from web3.types import Wei

from bench.stats import ratio, spread
from bench.workload import CHAIN_ID, GAS_LIMIT, Workload, workload
from support.anvil import anvil_process
from support.node_process import init_node, node_process

BATCH = 100
FUNDS = 10**24


class Rpc:
    """A minimal JSON-RPC client (requests, proxy scanning off): what a busy sender would write."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False

    def call(self, method: str, *params: Any) -> Any:
        reply = self.session.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=120
        ).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, method: str, param_lists: list[list[Any]]) -> list[Any]:
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": ps} for i, ps in enumerate(param_lists)
        ]
        replies = self.session.post(self.url, json=cast(Any, body), timeout=120).json()
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise RuntimeError(f"{method}: {errors[:2]}")
        return [r["result"] for r in sorted(replies, key=lambda r: r["id"])]

    def wait_receipt(self, tx_hash: str, timeout: float = 1800) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return cast(dict[str, Any], receipt)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for {tx_hash}")
            time.sleep(0.01)


@dataclass(frozen=True)
class Sent:
    tx_per_s: float
    seconds: float
    blocks: int


def send_and_wait(rpc: Rpc, load: Workload, batched: bool) -> Sent:
    """Send every transaction, then wait for each sender's last one; time from the first send."""
    txs = ["0x" + raw.hex() for raw in load.txs]
    first_block = int(rpc.call("eth_blockNumber"), 16)
    t0 = time.perf_counter()
    hashes: list[str] = []
    if batched:
        for i in range(0, len(txs), BATCH):
            hashes.extend(rpc.batch("eth_sendRawTransaction", [[t] for t in txs[i : i + BATCH]]))
    else:
        hashes.extend(rpc.call("eth_sendRawTransaction", t) for t in txs)
    senders = len(load.senders)
    for tx_hash in hashes[-senders:]:
        receipt = rpc.wait_receipt(tx_hash)
        if receipt["status"] != "0x1":
            raise RuntimeError(f"grant {tx_hash} failed")
    seconds = time.perf_counter() - t0
    blocks = int(rpc.call("eth_blockNumber"), 16) - first_block
    return Sent(len(txs) / seconds, seconds, blocks)


def deploy(rpc: Rpc, load: Workload) -> None:
    rpc.wait_receipt(rpc.call("eth_sendRawTransaction", "0x" + load.deploy.hex()), timeout=60)


# ----------------------------------------------------------------------------------------------- pamchain
@contextlib.contextmanager
def pamchain_process(tmp: Path, load: Workload, mode: str) -> Iterator[tuple[Rpc, subprocess.Popen[bytes]]]:
    """pamchain's node as a process (on-disk datadir); ``mode`` is "on-demand" or "period" (1 s blocks)."""
    signer = Account.from_key(b"\x01" * 32)
    genesis = make_genesis(
        [signer.address], load.chain_id, dict.fromkeys(load.funded, FUNDS), gas_limit=GAS_LIMIT
    )
    files = init_node(tmp / f"pamchain-{mode}", genesis, bytes(signer.key))
    flags = ["--seal-on-demand"] if mode == "on-demand" else ["--period", "1"]
    with node_process(files, flags) as (url, proc):
        yield Rpc(url), proc


@contextlib.contextmanager
def anvil_chain(tmp: Path, load: Workload, mode: str) -> Iterator[tuple[Rpc, subprocess.Popen[bytes]]]:
    """anvil with the same chain id and block gas limit; automine or ``--block-time 1``."""
    # By default anvil keeps every block's state in memory: 3,000 one-transaction blocks took 12 GB here
    # (4 GB and growing with a bare --prune-history). At most 64 states keep it small and make it faster:
    # the strongest peer, not a handicapped one. (--transaction-block-keeper would lose the receipts.)
    args = [
        "--chain-id",
        str(load.chain_id),
        "--gas-limit",
        str(GAS_LIMIT),
        "--prune-history",
        "64",
    ]
    if mode == "period":
        args += ["--block-time", "1"]
    home = tmp / f"anvil-{mode}"
    with anvil_process(home, args) as (url, proc):
        rpc = Rpc(url)
        rpc.batch("anvil_setBalance", [[a, hex(FUNDS)] for a in load.funded])
        yield rpc, proc


class Watchdog:
    """Stops a chain process that runs away (memory over ``max_rss_mib`` or no result within ``deadline``
    seconds): on this shared machine anvil automine fed 100-transaction batches grew to 12 GB in minutes.
    The run is then recorded as failed, with the reason, instead of a figure."""

    def __init__(self, proc: subprocess.Popen[bytes], max_rss_mib: float, deadline: float) -> None:
        self.proc, self.max_rss_mib, self.deadline = proc, max_rss_mib, deadline
        self.peak = 0.0
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)

    def _watch(self) -> None:
        start = time.monotonic()
        while not self._done.wait(0.5):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mib(self.proc.pid))
            if self.peak > self.max_rss_mib:
                self.reason = f"stopped: RSS {self.peak:.0f} MiB over {self.max_rss_mib:.0f} MiB"
            elif time.monotonic() - start > self.deadline:
                self.reason = f"stopped: no result in {self.deadline:.0f} s"
            if self.reason:
                self.proc.kill()
                return


def run_rpc_backend(
    backend: str, mode: str, batched: bool, load: Workload, tmp: Path, max_rss_mib: float = 1024
) -> dict[str, Any]:
    opener = pamchain_process if backend == "pamchain" else anvil_chain
    with tempfile.TemporaryDirectory(dir=tmp) as sub, opener(Path(sub), load, mode) as (rpc, proc):
        deploy(rpc, load)
        deadline = max(120, len(load.txs) / 20)  # under 20 tx/s is not a throughput worth waiting for
        with Watchdog(proc, max_rss_mib, deadline) as dog:
            try:
                cpu = cpu_seconds(proc.pid)
                sent = send_and_wait(rpc, load, batched)
                cpu = cpu_seconds(proc.pid) - cpu
            except (requests.RequestException, RuntimeError) as exc:
                if dog.reason is None:
                    raise
                return {
                    "tx_per_s": None,
                    "failed": dog.reason,
                    "rss_mib": dog.peak,
                    "error": type(exc).__name__,
                }
        return {
            "tx_per_s": sent.tx_per_s,
            "blocks": sent.blocks,
            "rss_mib": max(dog.peak, rss_mib(proc.pid)),
            # CPU the chain process used per transaction: what load on a shared machine does not change
            "cpu_ms_per_tx": 1000 * cpu / len(load.txs),
        }


# ------------------------------------------------------------------------------------------ in-process peers
def run_raw_pyevm(load: Workload, block_size: int = 666) -> dict[str, float]:
    """py-evm's ``MiningChain.mine_all`` in memory, blocks as big as the node's (gas limit / tx gas)."""
    from eth import constants
    from eth.chains.base import MiningChain
    from eth.db.atomic import AtomicDB
    from eth.vm.forks import PragueVM

    klass = MiningChain.configure(__name__="Bench", vm_configuration=((0, PragueVM),), chain_id=load.chain_id)
    ts = int(time.time()) - 1_000_000
    genesis_params = {
        "difficulty": 0,
        "gas_limit": GAS_LIMIT,
        "timestamp": ts,
        "coinbase": constants.ZERO_ADDRESS,
        "base_fee_per_gas": 10**9,
    }
    alloc = {
        bytes.fromhex(a[2:]): {"balance": FUNDS, "nonce": 0, "code": b"", "storage": {}} for a in load.funded
    }
    chain: Any = klass.from_genesis(AtomicDB(), genesis_params, alloc)  # type: ignore[arg-type]
    builder: Any = PragueVM.get_transaction_builder()
    ts += 1
    chain.mine_all([builder.decode(load.deploy)], timestamp=ts)
    t0 = time.perf_counter()
    decoded = [builder.decode(raw) for raw in load.txs]  # decoding is part of a node's work: timed
    for i in range(0, len(decoded), block_size):
        ts += 1
        chain.mine_all(decoded[i : i + block_size], timestamp=ts)
    return {"tx_per_s": len(decoded) / (time.perf_counter() - t0)}


def run_eth_tester(n: int) -> dict[str, float]:
    """eth-tester (py-evm) through web3.py, automine: one block per transaction."""
    from web3 import EthereumTesterProvider, Web3

    w3 = Web3(EthereumTesterProvider())
    load = workload(n, chain_id=w3.eth.chain_id)
    funder = w3.eth.accounts[0]
    for address in load.funded:
        w3.eth.send_transaction({"from": funder, "to": address, "value": Wei(10**22)})
    w3.eth.send_raw_transaction(load.deploy)
    t0 = time.perf_counter()
    hashes = [w3.eth.send_raw_transaction(raw) for raw in load.txs]
    for tx_hash in hashes[-len(load.senders) :]:
        assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    return {"tx_per_s": n / (time.perf_counter() - t0)}


# ------------------------------------------------------------------------------------------------- runner
RPC_CONFIGS = (
    # (name, backend, mode, batched)
    ("pamchain on-demand batch", "pamchain", "on-demand", True),
    ("anvil automine batch", "anvil", "on-demand", True),
    ("pamchain on-demand single", "pamchain", "on-demand", False),
    ("anvil automine single", "anvil", "on-demand", False),
    ("pamchain 1s-blocks batch", "pamchain", "period", True),
    ("anvil 1s-blocks batch", "anvil", "period", True),
    ("pamchain 1s-blocks single", "pamchain", "period", False),
    ("anvil 1s-blocks single", "anvil", "period", False),
)
# Each pamchain figure is reported as a ratio to these peers (same run, runs paired in order).
PEERS = {
    "pamchain on-demand batch": ("anvil automine batch", "raw py-evm mine_all", "eth-tester web3 single"),
    "pamchain on-demand single": ("anvil automine single", "raw py-evm mine_all", "eth-tester web3 single"),
    "pamchain 1s-blocks batch": ("anvil 1s-blocks batch", "raw py-evm mine_all"),
    "pamchain 1s-blocks single": ("anvil 1s-blocks single", "raw py-evm mine_all"),
}


def run(
    txs: int, repeat: int, tmp: Path, tester_txs: int | None = None, only: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Every configuration ``repeat`` times, interleaved so that each repeat measures all of them together."""
    load = workload(txs, CHAIN_ID)
    tester_n = tester_txs or min(txs, 1000)
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(repeat):
        for name, backend, mode, batched in RPC_CONFIGS:
            if only and not any(o in name for o in only):
                continue
            if any(r["tx_per_s"] is None for r in runs.get(name, ())):
                continue  # stopped by the watchdog once: reported once, not waited for again
            runs.setdefault(name, []).append(run_rpc_backend(backend, mode, batched, load, tmp))
        if not only or any(o in "raw py-evm mine_all" for o in only):
            runs.setdefault("raw py-evm mine_all", []).append(run_raw_pyevm(load))
        if not only or any(o in "eth-tester web3 single" for o in only):
            runs.setdefault("eth-tester web3 single", []).append(run_eth_tester(tester_n))
    return {
        "txs": txs,
        "eth_tester_txs": tester_n,
        "senders": len(load.senders),
        "repeat": repeat,
        "runs": runs,
    }


def summarize_throughput(raw: dict[str, Any]) -> dict[str, Any]:
    """tx/s per configuration (median/min/max over repeats) and each pamchain figure's ratios to its peers."""
    runs = raw["runs"]
    figures: dict[str, Any] = {}
    for name, values in runs.items():
        ok = [v for v in values if v["tx_per_s"] is not None]
        entry: dict[str, Any] = {"tx_per_s": spread([v["tx_per_s"] for v in ok]) if ok else None}
        if "rss_mib" in values[0]:
            entry["rss_mib"] = spread([v["rss_mib"] for v in values])
        if ok and "blocks" in ok[0]:
            entry["blocks"] = spread([v["blocks"] for v in ok], 0)
        if ok and "cpu_ms_per_tx" in ok[0]:
            entry["cpu_ms_per_tx"] = spread([v["cpu_ms_per_tx"] for v in ok], 3)
        failed = [v["failed"] for v in values if v["tx_per_s"] is None]
        if failed:
            entry["failed_runs"] = failed
        figures[name] = entry
    for name, peers in PEERS.items():
        if name not in runs:
            continue
        ours = [v["tx_per_s"] for v in runs[name]]
        figures[name]["vs"] = {}
        for peer in peers:
            if peer not in runs:
                continue
            pairs = [
                (a, b["tx_per_s"]) for a, b in zip(ours, runs[peer], strict=False) if a and b["tx_per_s"]
            ]
            if pairs:
                figures[name]["vs"][peer] = ratio([a for a, _ in pairs], [b for _, b in pairs])
    return {k: v for k, v in raw.items() if k != "runs"} | {"figures": figures}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, seconds."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds in a /proc ``stat`` file (a process's, or one thread's under ``task/``)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--txs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", action="append", default=[], help="substring of a configuration name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pamchain-bench-") as tmp:
        raw = run(args.txs, args.repeat, Path(tmp), only=tuple(args.only))
    print(json.dumps(summarize_throughput(raw), indent=2))


if __name__ == "__main__":
    main()
