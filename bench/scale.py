"""P4 scale (opt-in, long): a chain holding many grants, then what an operator and an oracle feel at that size.

The chain is built in-process with the node's own core (``NodeCore.submit`` + ``seal`` with timestamps one
second apart from a genesis far in the past, so block count is not bound to the wall clock), on an on-disk
datadir; then pamchain's node runs on it as a process and is measured over JSON-RPC:

- one principal's grants by ``eth_getLogs`` (indexed ``who`` topic over the whole chain), ms;
- log catch-up from block 0 (``eth_getLogs`` windows + the SDK's batch decoder: what the oracle's follower
  does; and with web3's decoder, as measured before), events/s;
- node restart time (process start -> first JSON-RPC answer), bytes on disk per grant (and by part), node RSS;
- issue 3: node RSS on chains of 10,000 and 100,000 blocks (one grant per block).

    .venv/bin/python -m bench --only p4 [--grants 1000000]     # hours at full size; --quick: seconds
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth.vm.forks import PragueVM
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak
from pamchain.node import make_genesis
from pamchain.node.chain import DEFAULT_STATE_HISTORY
from pamchain.sdk.chain.abi import ContractAbi
from pamchain.sdk.chain.events import EventDecoder

from bench.node_throughput import FUNDS, Rpc, rss_mib
from bench.workload import CHAIN_ID, GAS_LIMIT, MAX_FEE, compile_grant, contract_address
from support.node_process import node_process, signer_files

PRINCIPALS = 1_000
SENDERS = 10
# At the gas target (half the limit), not above it: fuller blocks raise the base fee ~2 % a block, and after
# ~250 blocks (150,000 grants) it passed the transactions' fee cap and a block could not take its grants.
PER_BLOCK = GAS_LIMIT // 2 // 100_000  # 500 grants of 96,016 gas


def _key(name: str) -> Any:  # an eth_keys PrivateKey
    return keys.PrivateKey(keccak(text=f"pamchain-bench:{name}"))


def principal(i: int) -> bytes:
    return keccak(text=f"principal:{i}")[:20]


def _grant_txs(first: int, count: int, nonces: dict[int, int], target: bytes) -> Iterator[bytes]:
    """Signed grant calls, round-robin over senders, ``who`` cycling over the principals."""
    builder: Any = PragueVM.get_transaction_builder()
    selector = keccak(text="grant(address,bytes32,uint256)")[:4]
    for i in range(first, first + count):
        s = i % SENDERS
        data = (
            selector
            + principal(i % PRINCIPALS).rjust(32, b"\0")
            + b"\x01" * 32
            + (10_000 + i).to_bytes(32, "big")
        )
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            CHAIN_ID, nonces[s], 1, MAX_FEE, 150_000, target, 0, data, ()
        )
        nonces[s] += 1
        yield unsigned.as_signed_transaction(_key(f"sender{s}"), chain_id=CHAIN_ID).encode()


def build_chain(
    root: Path, grants: int, per_block: int, state_history: int | None = DEFAULT_STATE_HISTORY
) -> dict[str, Any]:
    """Genesis + deployment + ``grants`` grant transactions in blocks of ``per_block``, the node keeping the
    state of the last ``state_history`` blocks (None: all); returns build facts."""
    from pamchain.node.chain import Chain
    from pamchain.node.core import NodeCore, Signer
    from pamchain.node.service import init_datadir
    from pamchain.node.storage import open_store
    from pamchain.node.txpool import PoolLimits, TxPool

    signer = Account.from_key(b"\x01" * 32)
    deployer = _key("deployer")
    senders = [_key(f"sender{s}").public_key.to_checksum_address() for s in range(SENDERS)]
    blocks = -(-grants // per_block) + 2
    start = int(time.time()) - blocks - 3600
    doc = make_genesis(
        [signer.address],
        CHAIN_ID,
        dict.fromkeys([deployer.public_key.to_checksum_address(), *senders], FUNDS),
        gas_limit=GAS_LIMIT,
        timestamp=start,
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "genesis.json").write_text(json.dumps(doc))
    genesis, _ = init_datadir(root / "d", root / "genesis.json")
    store = open_store(root / "d")
    chain = Chain(genesis, store, state_history=state_history)
    core = NodeCore(
        chain,
        TxPool(PoolLimits(global_slots=10**6, per_sender=10**6)),
        Signer.from_private_key(bytes(signer.key)),
    )
    _, bytecode = compile_grant()
    builder: Any = PragueVM.get_transaction_builder()
    deploy = builder.new_unsigned_dynamic_fee_transaction(
        CHAIN_ID, 0, 1, MAX_FEE, 2_000_000, b"", 0, bytes.fromhex(bytecode.removeprefix("0x")), ()
    ).as_signed_transaction(deployer, chain_id=CHAIN_ID)
    target = contract_address(deployer.public_key.to_canonical_address(), 0)
    ts = start + 1
    core.submit(deploy.encode())
    core.seal(timestamp=ts)
    nonces = dict.fromkeys(range(SENDERS), 0)
    t0 = time.perf_counter()
    done = 0
    try:
        while done < grants:
            count = min(per_block, grants - done)
            for raw in _grant_txs(done, count, nonces, target):
                core.submit(raw)
            ts += 1
            sealed = core.seal(timestamp=ts)
            assert sealed is not None and len(sealed.tx_hashes) == count, "a grant did not fit its block"
            done += count
    finally:
        store.close()
    return {
        "grants": grants,
        "blocks": chain.head.block_number,
        "target": target,
        "build_s": time.perf_counter() - t0,
        "signer": signer,
        "state_history": state_history,
    }


@contextlib.contextmanager
def _node(
    root: Path, signer: Any, state_history: int | None = DEFAULT_STATE_HISTORY
) -> Iterator[tuple[subprocess.Popen[bytes], Rpc, float]]:
    """pamchain's node on ``root/d`` (no sealing) until the block ends; yields the process, a client and the
    seconds it took to answer."""
    files = signer_files(root, root / "d", bytes(signer.key))
    history = ["--archive"] if state_history is None else ["--state-history", str(state_history)]
    t0 = time.perf_counter()
    with node_process(files, ["--no-seal", *history], timeout=600, grace=120) as (url, proc):
        yield proc, Rpc(url), time.perf_counter() - t0


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(root: Path, built: dict[str, Any]) -> dict[str, Any]:
    from web3 import Web3

    abi, _ = compile_grant()
    event = Web3().eth.contract(abi=list(abi)).events.Granted()
    target = "0x" + built["target"].hex()
    decoder = EventDecoder((target, ContractAbi(abi)))  # the oracle's decoder
    topic0 = "0x" + keccak(text="Granted(uint256,address,bytes32,uint256)").hex()
    with _node(root, built["signer"], built["state_history"]) as (proc, rpc, _first_start):
        head = int(rpc.call("eth_blockNumber"), 16)
        who = "0x" + principal(7).rjust(32, b"\0").hex()
        times, found = [], 0
        for _ in range(5):
            t0 = time.perf_counter()
            logs = rpc.call(
                "eth_getLogs",
                {"fromBlock": "0x0", "toBlock": "latest", "address": target, "topics": [topic0, None, who]},
            )
            times.append(time.perf_counter() - t0)
            found = len(logs)
        per_block = max(1, built["grants"] // max(1, head - 1))
        window = max(1, 9_000 // per_block)  # under the node's 10,000-result cap
        t0 = time.perf_counter()
        events = 0
        for first in range(0, head + 1, window):
            last = min(head, first + window - 1)
            logs = rpc.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last), "address": target})
            events += len(decoder.decode_all(logs))
        catch_up_s = time.perf_counter() - t0
        # The same catch-up with web3's decoder (what this figure measured before the oracle's batch decoder).
        t0 = time.perf_counter()
        web3_events = 0
        for first in range(0, head + 1, window):
            last = min(head, first + window - 1)
            for entry in rpc.call(
                "eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last), "address": target}
            ):
                event.process_log(_web3_log(entry))
                web3_events += 1
        web3_s = time.perf_counter() - t0
        rss = rss_mib(proc.pid)
    with _node(root, built["signer"], built["state_history"]) as (proc, rpc, restart_s):
        pass
    disk = _disk_bytes(root / "d")
    return {
        "grants_in_chain": built["grants"],
        "state_history_blocks": "all" if built["state_history"] is None else built["state_history"],
        "build_in_process_incl_signing_tx_per_s": round(built["grants"] / built["build_s"], 1),
        "one_principal_getLogs_ms_median": round(1000 * statistics.median(times), 1),
        "one_principal_grants_found": found,
        "log_catch_up_events_per_s": round(events / catch_up_s, 1),
        "log_catch_up_events": events,
        "log_catch_up_events_per_s_web3_decoding": round(web3_events / web3_s, 1),
        "node_restart_s": round(restart_s, 2),
        "disk_bytes_per_grant": round(disk / built["grants"]),
        "disk_mib": round(disk / 2**20, 1),
        "disk_bytes_per_grant_by_part": disk_breakdown(root / "d", built["grants"]),
        "node_rss_mib_after_catch_up": round(rss, 1),
    }


def _web3_log(entry: dict[str, Any]) -> dict[str, Any]:
    from hexbytes import HexBytes

    return {
        "address": entry["address"],
        "topics": [HexBytes(t) for t in entry["topics"]],
        "data": HexBytes(entry["data"]),
        "blockNumber": int(entry["blockNumber"], 16),
        "transactionHash": HexBytes(entry["transactionHash"]),
        "transactionIndex": int(entry["transactionIndex"], 16),
        "blockHash": HexBytes(entry["blockHash"]),
        "logIndex": int(entry["logIndex"], 16),
    }


def rss_at_blocks(root: Path, blocks: int) -> float:
    """Node RSS (MiB) serving a chain of ``blocks`` one-grant blocks, after reading logs and sampled blocks."""
    built = build_chain(root, blocks, 1)
    with _node(root, built["signer"]) as (proc, rpc, _):
        head = int(rpc.call("eth_blockNumber"), 16)
        for n in range(1, head + 1, max(1, head // 200)):
            rpc.call("eth_getBlockByNumber", hex(n), True)
        for first in range(0, head + 1, 5_000):
            rpc.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(min(head, first + 4_999))})
        return round(rss_mib(proc.pid), 1)


def run(
    grants: int,
    tmp: Path,
    quick: bool = False,
    rss_blocks: tuple[int, ...] = (),
    state_history: int | None = DEFAULT_STATE_HISTORY,
) -> dict[str, Any]:
    built = build_chain(tmp / "grants", grants, PER_BLOCK, state_history)
    figures = measure(tmp / "grants", built)
    for blocks in rss_blocks or ((30, 60) if quick else (10_000, 100_000)):
        figures[f"node_rss_mib_at_{blocks}_blocks"] = rss_at_blocks(tmp / f"blocks{blocks}", blocks)
    return {"grants": grants, "blocks": built["blocks"], "figures": figures}


def disk_breakdown(datadir: Path, grants: int) -> dict[str, int]:
    """Bytes per grant on disk by what they hold: transactions and receipts (their rows, or the tries of an
    older datadir, walked from every canonical block's roots), py-evm's tx-hash lookups, the log index, state trie nodes with headers and
    code (the rest of the hash-keyed rows), the state pruning's journal (the kept blocks' trie-node changes),
    and SQLite's page overhead (file size minus the rows' bytes)."""
    import sqlite3

    import rlp

    con = sqlite3.connect(f"file:{datadir / 'chain.sqlite'}?mode=ro", uri=True)
    get = lambda key: con.execute("SELECT v FROM kv WHERE k=?", (key,)).fetchone()[0]  # noqa: E731

    def trie_bytes(root: bytes) -> int:
        total, stack = 0, [root]
        while stack:
            ref = stack.pop()
            if isinstance(ref, bytes) and len(ref) == 32:
                encoded = get(ref)
                total += 32 + len(encoded)
                node = rlp.decode(encoded)
            else:
                node = ref
            if isinstance(node, list):
                children = node[:16] if len(node) == 17 else ([node[1]] if not node[0][0] >> 5 & 1 else [])
                stack.extend(c for c in children if c != b"" and (isinstance(c, list) or len(c) == 32))
        return total

    parts = dict.fromkeys(
        ("transactions", "receipts", "tx_hash_lookups", "state_headers_code", "log_index", "state_journal"), 0
    )
    number = 0
    tries = 0  # transaction and receipt trie nodes among the hash-keyed rows (older datadirs)
    blank = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
    while True:
        found = con.execute("SELECT v FROM kv WHERE k=?", (b"block-number-to-hash:%d" % number,)).fetchone()
        if found is None:
            break
        header = rlp.decode(get(rlp.decode(found[0])))
        for part, prefix, root in (
            ("transactions", b"transactions:", header[4]),
            ("receipts", b"receipts:", header[5]),
        ):
            if root == blank:
                continue
            (stored,) = con.execute(  # rows of 64 (receipts without blooms), or (older datadirs) a trie
                "SELECT sum(length(k) + length(v)) FROM kv WHERE k BETWEEN ? AND ?",
                (prefix + root, prefix + root + b"\xff\xff"),
            ).fetchone()
            in_trie = 0 if stored is not None else trie_bytes(root)
            parts[part] += stored if stored is not None else in_trie
            tries += in_trie
        number += 1
    hashed = con.execute("SELECT sum(length(k) + length(v)) FROM kv WHERE length(k) = 32").fetchone()[0]
    parts["state_headers_code"] = hashed - tries
    parts["tx_hash_lookups"] = sum(  # py-evm's long keys (older datadirs) and the node's "tx:" rows
        con.execute(
            "SELECT coalesce(sum(length(k) + length(v)), 0) FROM kv WHERE k >= ? AND k < ?", r
        ).fetchone()[0]
        for r in ((b"transaction-hash-to-block", b"transaction-hash-to-blocl"), (b"tx:", b"tx;"))
    )
    parts["log_index"] = con.execute("SELECT sum(pgsize) FROM dbstat WHERE name='log_pos'").fetchone()[0] or 0
    parts["state_journal"] = (
        con.execute("SELECT sum(pgsize) FROM dbstat WHERE name='state_journal'").fetchone()[0] or 0
    )
    size = _disk_bytes(datadir)
    parts["sqlite_pages_and_other"] = size - sum(parts.values())
    con.close()
    return {name: round(value / grants) for name, value in parts.items()}
