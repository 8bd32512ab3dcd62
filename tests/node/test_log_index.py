"""The log index: answers exactly what the bloom-filtered scan answers, across reorgs, and is rebuilt for an old
datadir."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st
from pamchain.node import load_genesis, make_genesis
from pamchain.node.chain import Chain
from pamchain.node.chain.log_index import rows_for
from pamchain.node.storage import LOG_INDEX_VERSION, META_LOG_INDEX, SqliteStore, open_store

from support.node_process import init_node, start_node
from support.rpc import free_port

from .blocks import CallBlocks
from .conftest import CHAIN_ID, ETHER
from .test_crash import Client, _wait_up

# LOG2(data = calldata[64:], topic0 = calldata[0:32], topic1 = calldata[32:64])
LOG2_CODE = "0x3660409003806040600037602035600035826000a200"
# LOG1(data = calldata[32:], topic0 = calldata[0:32])
LOG1_CODE = "0x3660209003806020600037600035816000a100"
CONTRACTS = [bytes([0xC0 + i]) * 20 for i in range(3)]  # two LOG2 emitters, one LOG1 emitter
TOPICS = [bytes([0x70 + i]) * 32 for i in range(4)]  # a small pool: filters hit and miss
SIGNERS = sorted(
    (Account.from_key((0x5160 + i).to_bytes(32, "big")) for i in range(5)), key=lambda a: a.address
)
SENDER = Account.from_key((0xD00D).to_bytes(32, "big"))

# One log a transaction: (contract, topic0, topic1, data length)
log_spec = st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 3), st.integers(0, 40))
block_spec = st.lists(log_spec, max_size=4)
# A filter over the pool: None = any, else the alternatives (an OR)
choice = st.one_of(st.none(), st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True))
filter_spec = st.tuples(
    st.one_of(st.none(), st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True)),  # 3: no contract
    st.lists(choice, max_size=3),
    st.integers(0, 8),
    st.integers(0, 8),
)


def _doc(start: int) -> dict[str, Any]:
    code = {"balance": "0x0"}
    return make_genesis(
        [a.address for a in SIGNERS],
        CHAIN_ID,
        {SENDER.address: 1000 * ETHER},
        timestamp=start,
        extra_alloc={
            "0x" + CONTRACTS[0].hex(): {**code, "code": LOG2_CODE},
            "0x" + CONTRACTS[1].hex(): {**code, "code": LOG2_CODE},
            "0x" + CONTRACTS[2].hex(): {**code, "code": LOG1_CODE},
        },
    )


class Builder(CallBlocks):
    """A chain whose blocks emit logs (one a transaction)."""

    def __init__(self, doc: dict[str, Any], datadir: Path | None = None) -> None:
        super().__init__(doc, SENDER, datadir)

    def block(self, logs: list[tuple[int, int, int, int]], signer: LocalAccount, timestamp: int) -> None:
        calls = [
            (CONTRACTS[c], TOPICS[t0] + (TOPICS[t1] if c < 2 else b"") + bytes(range(size)))
            for c, t0, t1, size in logs
        ]
        self.build(calls, 60_000, signer, timestamp)


def _index_rows(chain: Chain) -> list[tuple[int, int, int, int]]:
    return sorted(chain.store._conn.execute("SELECT k, block, idx, at FROM log_pos"))


def _expected_rows(chain: Chain) -> list[tuple[int, int, int, int]]:
    """What a fresh backfill would write: rows of the canonical blocks only."""
    rows = []
    for n in range(1, chain.head.block_number + 1):
        rows += rows_for(n, chain._evm_receipts(chain._header_by_number(n)))
    return sorted(rows)


def _check(chain: Chain, filters: list[tuple[Any, ...]]) -> None:
    assert _index_rows(chain) == _expected_rows(chain)
    head = int(chain.head.block_number)
    for contracts, topic_choices, a, b in filters:
        first, last = min(a, b, head), min(max(a, b), head)
        addresses = [bytes(20) if i == 3 else CONTRACTS[i] for i in contracts or []]
        topics = [None if c is None else [TOPICS[i] for i in c] for c in topic_choices]
        indexed = chain.logs(first, last, addresses, topics)
        headers = [chain._header_by_number(n) for n in range(first, last + 1)]
        assert indexed == chain._scan_logs(headers, addresses, topics, 10_000)


@settings(max_examples=30, deadline=None)
@given(
    prefix=st.lists(block_spec, min_size=1, max_size=3),
    ours=block_spec,
    theirs=st.lists(block_spec, min_size=3, max_size=3),
    filters=st.lists(filter_spec, min_size=4, max_size=8),
)
def test_index__answers_what_the_scan_answers__across_a_reorg(
    prefix: list[Any], ours: list[Any], theirs: list[Any], filters: list[Any]
) -> None:
    """Blocks of random logs; our branch (one in-turn block) loses to a heavier one of three out-of-turn blocks:
    after every import the index holds exactly the canonical blocks' rows, and every filter's answer through
    the index equals the scan's."""
    start = int(time.time()) - 1_000
    doc = _doc(start)
    x, y = Builder(doc), Builder(doc)
    p = len(prefix)
    for n, logs in enumerate(prefix, start=1):
        x.block(logs, SIGNERS[n % 5], start + n)
        assert y.chain.import_block(x.chain._evm_block(x.chain.head))
    y.nonce = x.nonce
    x.block(ours, SIGNERS[(p + 1) % 5], start + p + 1)  # in turn: difficulty 2
    for i, logs in enumerate(theirs):
        y.block(logs, SIGNERS[(p + 2 + i) % 5], start + p + 1 + i)  # out of turn: 1 each, 3 in all
    _check(x.chain, filters)
    ours_head = x.chain.head.hash
    for n in range(p + 1, p + 4):
        x.chain.import_block(y.chain._evm_block(y.chain._header_by_number(n)))
        _check(x.chain, filters)
    assert x.chain.head.hash == y.chain.head.hash != ours_head
    for contracts, topic_choices, a, b in filters:  # the same answers as a node that never saw our branch
        addresses = [bytes(20) if i == 3 else CONTRACTS[i] for i in contracts or []]
        topics = [None if c is None else [TOPICS[i] for i in c] for c in topic_choices]
        first, last = min(a, b, p + 3), min(max(a, b), p + 3)
        assert x.chain.logs(first, last, addresses, topics) == y.chain.logs(first, last, addresses, topics)


def test_index__old_datadir__is_backfilled_on_open(tmp_path: Path) -> None:
    """A datadir written before the index (its rows and version marker gone, the old table present) is indexed
    on open, the old table dropped; a second open does nothing more."""
    start = int(time.time()) - 1_000
    doc = _doc(start)
    built = Builder(doc, tmp_path)
    for n in range(1, 6):
        built.block([(n % 3, n % 4, (n + 1) % 4, n), (0, 1, 2, 3)], SIGNERS[n % 5], start + n)
    expected = _index_rows(built.chain)
    assert len(expected) == 10 * 3 - 2  # 10 logs: address + 2 topics each, but blocks 2 and 5 have a LOG1
    built.chain.store.close()
    db = sqlite3.connect(tmp_path / "chain.sqlite")
    db.executescript(
        "DELETE FROM log_pos; DELETE FROM meta WHERE k='log_index';"
        "CREATE TABLE log_index (k BLOB NOT NULL, block INTEGER NOT NULL, PRIMARY KEY (k, block)) WITHOUT ROWID;"
    )
    db.close()
    reopened = Chain(load_genesis(doc), open_store(tmp_path))
    assert _index_rows(reopened) == expected
    assert reopened.store.get_meta(META_LOG_INDEX) == LOG_INDEX_VERSION
    assert not reopened.store.has_table("log_index")
    assert reopened.logs(0, 5, [CONTRACTS[0]], [None, [TOPICS[2]]]) == reopened._scan_logs(
        [reopened._header_by_number(n) for n in range(6)], [CONTRACTS[0]], [None, [TOPICS[2]]], 100
    )


def test_index__sigkill_while_sealing__stays_in_step_with_the_blocks(
    tmp_path: Path, genesis_factory: Any, signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """A real node process SIGKILLed while it seals log-emitting blocks, again and again: after every restart
    the index answers what the per-block scan (``blockHash`` queries) answers, and holds exactly the rows of
    the canonical blocks."""
    contract = "0x" + CONTRACTS[0].hex()
    doc = genesis_factory(extra_alloc={contract: {"balance": "0x0", "code": LOG2_CODE}})
    files = init_node(tmp_path, doc, bytes(signer.key), password="correct horse")
    log = tmp_path / "node.log"
    rng = random.Random(3)
    sender = users[0]
    for _round in range(3):
        client = Client(f"http://127.0.0.1:{free_port()}")
        proc = start_node(files, int(client.url.rsplit(":", 1)[1]), ["--seal-on-demand"], log=log)
        try:
            _wait_up(client, proc, log)
            _compare_over_rpc(client, contract)
            nonce = int(client.call("eth_getTransactionCount", sender.address, "latest"), 16)
            kill_at = time.monotonic() + rng.uniform(0.3, 0.8)
            while time.monotonic() < kill_at:
                raws = []
                for i in range(8):
                    data = TOPICS[rng.randrange(4)] + TOPICS[rng.randrange(4)] + b"x"
                    tx: dict[str, Any] = {"to": to_checksum_address(contract), "value": 0, "gas": 60_000}
                    tx |= {"data": data, "chainId": CHAIN_ID}
                    tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "nonce": nonce + i}
                    raws.append("0x" + sender.sign_transaction(tx).raw_transaction.hex())
                nonce += sum(1 for h in client.batch([("eth_sendRawTransaction", [r]) for r in raws]) if h)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    chain = Chain(load_genesis(doc), open_store(files.datadir))
    assert chain.head.block_number > 0 and _index_rows(chain)
    assert _index_rows(chain) == _expected_rows(chain)


def _compare_over_rpc(client: Client, contract: str) -> None:
    head = int(client.call("eth_blockNumber"), 16)
    hashes = [
        b["hash"] for b in client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(head + 1)])
    ]
    scanned = [x for got in client.batch([("eth_getLogs", [{"blockHash": h}]) for h in hashes]) for x in got]
    for topic in TOPICS[:2]:
        wanted = "0x" + topic.hex()
        indexed = client.call(
            "eth_getLogs",
            {"fromBlock": "0x0", "toBlock": "latest", "address": contract, "topics": [None, wanted]},
        )
        assert indexed == [x for x in scanned if x["topics"][1] == wanted]


def test_index__backfill_stopped_half_way__resumes_where_it_was(tmp_path: Path, monkeypatch: Any) -> None:
    """A backfill that dies after its first batch (a crash between two commits) leaves that batch and its
    progress marker; the next open indexes only the rest and ends with exactly the canonical rows."""
    start = int(time.time()) - 1_000
    doc = _doc(start)
    built = Builder(doc, tmp_path)
    for n in range(1, 8):
        built.block([(0, n % 4, (n + 2) % 4, n)], SIGNERS[n % 5], start + n)
    expected = _index_rows(built.chain)
    built.chain.store.close()
    db = sqlite3.connect(tmp_path / "chain.sqlite")
    db.executescript("DELETE FROM log_pos; DELETE FROM meta WHERE k='log_index';")
    db.close()
    real = Chain._backfill_log_index
    monkeypatch.setattr(Chain, "_backfill_log_index", lambda self: real(self, batch=3))
    commits = 0
    real_commit = SqliteStore.commit

    def dying_commit(self: SqliteStore, *args: Any, **kwargs: Any) -> None:
        nonlocal commits
        commits += 1
        if commits == 2:
            raise KeyboardInterrupt("killed")
        real_commit(self, *args, **kwargs)

    monkeypatch.setattr(SqliteStore, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        Chain(load_genesis(doc), open_store(tmp_path))
    monkeypatch.setattr(SqliteStore, "commit", real_commit)
    half = sqlite3.connect(tmp_path / "chain.sqlite")
    assert half.execute("SELECT v FROM meta WHERE k='log_index_backfilled'").fetchone() == (b"3",)
    assert half.execute("SELECT max(block) FROM log_pos").fetchone() == (3,)
    half.close()
    reopened = Chain(load_genesis(doc), open_store(tmp_path))
    assert _index_rows(reopened) == expected
    assert reopened.store.get_meta(META_LOG_INDEX) == LOG_INDEX_VERSION
