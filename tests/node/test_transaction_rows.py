"""A block's transactions stored 64 to a row instead of as their trie: the header's transaction root rebuilt
from the rows, the same blocks and transactions served as before (built, imported, after a reorg, exported,
over RPC from a node process), an older datadir's transaction tries still read, and no row of a refused
block left behind."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pamchain.node import block_rows, load_genesis
from pamchain.node.chain import Chain
from pamchain.node.chainfile import export_chain, import_chain
from pamchain.node.errors import NodeError
from pamchain.node.ordered_trie import ordered_trie_root
from pamchain.node.storage import open_store

from support.node_process import NodeProcess, init_node

from .conftest import CHAIN_ID
from .test_crash import Client
from .test_log_index import CONTRACTS, SIGNERS, Builder, _doc
from .test_receipt_blobs import _chains


def _stored(chain: Chain, root: bytes) -> list[bytes]:
    prefix = block_rows.TRANSACTIONS
    stored = chain.store.values_between(block_rows.key(prefix, root), block_rows.last_key(prefix, root))
    return [block_rows.unpack(row) for row in stored]


def _items(rows: list[bytes]) -> list[bytes]:
    return [tx for row in rows for tx in block_rows.items(row)]


def _clear_caches(chain: Chain) -> None:
    for cache in (chain._blocks, chain._receipts, chain._receipt_records, chain._row_cache):
        cache.clear()
    chain.db.staged._cache.clear()
    chain.history._cache.clear()


def _served(chain: Chain) -> dict[str, Any]:
    """Everything the chain answers about its blocks' transactions."""
    head = int(chain.head.block_number)
    blocks = [chain.header_by_number(n) for n in range(head + 1)]
    hashes = [h for b in blocks for h in chain.tx_hashes(b)]
    return {
        "blocks": [chain.block_record(b) for b in blocks],
        "raw_blocks": [chain.raw_block(b.hash) for b in blocks],
        "raw_transactions": [chain.raw_transactions(b.hash) for b in blocks],
        "by_hash": [chain.transaction(h) for h in hashes],
        "raw_by_hash": [chain.raw_transaction(h) for h in hashes],
        "by_index": [chain.transaction_by_index(b, i) for b in blocks for i in range(chain.tx_count(b) + 1)],
        "located": [chain.locate(h) for h in hashes],
        "receipts": [chain.block_receipts(b) for b in blocks],
        "logs": chain.logs(0, head, [], []),
        "logs_by_address": chain.logs(0, head, [CONTRACTS[1]], []),  # one log at a time: the index
    }


def _to_old_layout(chain: Chain) -> int:
    """Swap every block's transactions rows back for their trie's nodes, as a node before them stored them;
    returns how many blocks were rewritten."""
    conn = chain.store._conn
    rewritten = 0
    for n in range(1, int(chain.head.block_number) + 1):
        root = chain._header_by_number(n).transaction_root
        rows = _stored(chain, root)
        if not rows:
            continue
        _, nodes = ordered_trie_root(_items(rows))
        conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", nodes.items())
        prefix = block_rows.TRANSACTIONS
        conn.execute(
            "DELETE FROM kv WHERE k BETWEEN ? AND ?",
            (block_rows.key(prefix, root), block_rows.last_key(prefix, root)),
        )
        rewritten += 1
    return rewritten


def test_transactions__rows_a_block__rebuild_the_header_root_and_no_trie_is_stored() -> None:
    x, y, _ = _chains()
    for chain in (x.chain, y.chain):  # built, and imported
        for n in range(1, 7):
            header = chain._header_by_number(n)
            rows = _stored(chain, header.transaction_root)
            if n == 4:  # no transactions: the blank root, nothing stored
                assert rows == [] and chain.tx_count(chain.header_by_number(n)) == 0
                continue
            assert len(rows) == (3 if n == 6 else 1)
            assert [block_rows.count(r) for r in rows][-1] == (150 - 128 if n == 6 else 1 + n % 3)
            assert ordered_trie_root(_items(rows))[0] == header.transaction_root
            assert chain.store.get(header.transaction_root) is None  # the trie's root node is not stored
            wanted = [tx.encode() for tx in chain._evm_block(header).transactions]
            assert _items(rows) == wanted  # the canonical encodings, typed ones with their type byte


def test_transactions__served_as_before__built_imported_and_after_the_caches_are_cleared() -> None:
    x, y, _ = _chains()
    wanted = _served(x.chain)
    assert len(wanted["by_hash"]) == 1 + 2 + 3 + 0 + 3 + 150
    assert all(t is not None for t in wanted["by_hash"] + wanted["raw_by_hash"])
    for chain in (x.chain, y.chain):
        _clear_caches(chain)
        assert _served(chain) == wanted


def test_transactions__chain_file__exported_from_rows_imports_the_same_chain() -> None:
    x, _, start = _chains()
    sink = io.BytesIO()
    _clear_caches(x.chain)
    assert export_chain(x.chain, sink) == 6
    fresh = Builder(_doc(start))
    assert import_chain(fresh.chain, sink.getvalue()) == 6
    assert fresh.chain.head.hash == x.chain.head.hash
    assert _served(fresh.chain) == _served(x.chain)


def test_transactions__reorg__lookups_of_the_blocks_that_join_read_from_their_rows() -> None:
    """Our branch (one in-turn block) loses to a heavier one of three out-of-turn blocks imported earlier as
    side blocks: the switch rewrites the transaction lookups of the joining blocks from their rows."""
    start = int(time.time()) - 1_000
    doc = _doc(start)
    x, y = Builder(doc), Builder(doc)
    x.block([(0, 1, 2, 3)], SIGNERS[1], start + 1)
    assert y.chain.import_block(x.chain._evm_block(x.chain.head))
    y.nonce = x.nonce
    x.block([(1, 2, 3, 4), (2, 0, 0, 1)], SIGNERS[2], start + 2)  # in turn: difficulty 2
    ours = x.chain.tx_hashes(x.chain.head_record())
    for i in range(3):
        y.block([(i, 1, 2, 5)] * (2 + i), SIGNERS[(3 + i) % 5], start + 2 + i)  # out of turn: 1 each
    for n in range(2, 5):
        _clear_caches(x.chain)
        x.chain.import_block(y.chain._evm_block(y.chain._header_by_number(n)))
    assert x.chain.head.hash == y.chain.head.hash
    _clear_caches(x.chain)
    for n in range(2, 5):
        block = x.chain.header_by_number(n)
        for index, tx_hash in enumerate(x.chain.tx_hashes(block)):
            assert x.chain.locate(tx_hash) == (block, index)
    assert all(x.chain.locate(h) is None for h in ours)  # the losing block's are no longer found
    assert _served(x.chain) == _served(y.chain)


def test_transactions__refused_block__leaves_no_row(tmp_path: Path) -> None:
    """Rows are written in the block's commit: a block refused after its transactions were executed (one
    left out, so the header's roots and gas no longer match) leaves no row, under either root."""
    x, _, start = _chains()
    y = Builder(_doc(start), tmp_path)
    for n in range(1, 6):
        assert y.chain.import_block(x.chain._evm_block(x.chain._header_by_number(n)))
    sixth = x.chain._evm_block(x.chain._header_by_number(6))
    bad = sixth.copy(transactions=sixth.transactions[:-1])  # the header's transaction root no longer matches
    with pytest.raises(NodeError):
        y.chain.import_block(bad)
    assert _stored(y.chain, sixth.header.transaction_root) == []
    assert _stored(y.chain, ordered_trie_root([t.encode() for t in bad.transactions])[0]) == []
    assert not y.chain.db.staged.has_staged
    assert y.chain.import_block(sixth)
    assert len(_stored(y.chain, sixth.header.transaction_root)) == 3


def test_transactions__older_datadir_with_transaction_tries__still_read(tmp_path: Path) -> None:
    """A datadir written before: its blocks' transactions are in tries (here: the rows swapped back for the
    trie nodes); they read the same, and new blocks are stored the new way."""
    x, _, start = _chains(tmp_path)
    wanted = _served(x.chain)
    assert _to_old_layout(x.chain) == 5
    x.chain.store.close()
    reopened = Builder(_doc(start), tmp_path)
    reopened.nonce = x.nonce
    chain = reopened.chain
    assert _stored(chain, chain._header_by_number(6).transaction_root) == []
    assert _served(chain) == wanted
    reopened.block([(0, 1, 2, 3)], SIGNERS[7 % 5], start + 7)
    assert len(_stored(chain, chain._header_by_number(7).transaction_root)) == 1
    _clear_caches(chain)
    (tx_hash,) = chain.tx_hashes(chain.header_by_number(7))
    assert chain.locate(tx_hash) == (chain.header_by_number(7), 0)
    assert _served(chain)["blocks"][:7] == wanted["blocks"]


_READS = [
    ("eth_getTransactionByHash", "tx"),
    ("debug_getRawTransaction", "tx"),
    ("eth_getTransactionReceipt", "tx"),
    ("eth_getBlockByNumber", "block_full"),
    ("eth_getBlockByNumber", "block"),
    ("debug_getRawBlock", "number"),
    ("debug_getRawReceipts", "number"),
    ("eth_getBlockTransactionCountByNumber", "number"),
    ("eth_getTransactionByBlockNumberAndIndex", "index"),
]


def _rpc_reads(client: Client, head: int, hashes: list[str]) -> list[Any]:
    calls: list[tuple[str, list[Any]]] = []
    for method, shape in _READS:
        if shape == "tx":
            calls += [(method, [h]) for h in hashes]
        elif shape in ("block_full", "block"):
            calls += [(method, [hex(n), shape == "block_full"]) for n in range(head + 1)]
        elif shape == "number":
            calls += [(method, [hex(n)]) for n in range(head + 1)]
        else:
            calls += [(method, [hex(n), hex(i)]) for n in range(head + 1) for i in range(3)]
    calls.append(("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest"}]))
    return client.batch(calls)


def test_transactions__node_process__rpc_reads_unchanged_across_restarts_and_the_old_layout(
    tmp_path: Path, genesis_factory: Any, signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """A real node seals legacy and dynamic-fee transactions; every RPC read of them answers the same from the
    running node, after a restart (nothing cached: the rows), and after its datadir is turned back into the
    old layout (the tries)."""
    doc = genesis_factory()
    files = init_node(tmp_path, doc, bytes(signer.key))
    node = NodeProcess(files, ("--seal-on-demand", "--rpc-debug"), log=tmp_path / "node.log")
    node.start()
    try:
        client = Client(node.url)
        sender, to = users[0], to_checksum_address(users[1].address)
        raws = []
        for nonce in range(12):
            tx: dict[str, Any] = {
                "to": to,
                "value": nonce + 1,
                "gas": 21_000,
                "nonce": nonce,
                "chainId": CHAIN_ID,
            }
            if nonce % 3:
                tx |= {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
            else:
                tx["gasPrice"] = 10**10
            raws.append("0x" + sender.sign_transaction(tx).raw_transaction.hex())
        hashes = client.batch([("eth_sendRawTransaction", [r]) for r in raws])
        assert all(hashes)
        deadline = time.monotonic() + 60
        while client.call("eth_getTransactionReceipt", hashes[-1]) is None:
            assert time.monotonic() < deadline, "not mined"
            time.sleep(0.05)
        head = int(client.call("eth_blockNumber"), 16)
        before = _rpc_reads(client, head, hashes)
        assert all(r is not None for r in before[: 3 * len(hashes)])
        assert sum(len(b["transactions"]) for b in before[3 * len(hashes) : 3 * len(hashes) + head + 1]) == 12
        node.stop()
        node.start()
        assert _rpc_reads(client, head, hashes) == before
        node.stop()
        chain = Chain(load_genesis(doc), open_store(files.datadir))
        assert _to_old_layout(chain) >= 1
        chain.store.close()
        node.start()
        assert _rpc_reads(client, head, hashes) == before
    finally:
        node.stop()


def test_transactions__rows__kept_out_of_the_state_read_cache() -> None:
    """Rows are history (~10 kB each): neither their commit nor a read of them fills the entry-bounded cache of
    trie nodes, which would grow by gigabytes over a catch-up."""
    x, _, _ = _chains()
    cached = x.chain.db.staged._cache
    assert cached and not [k for k in cached if k.startswith(block_rows.PREFIXES)]  # committed
    _clear_caches(x.chain)
    assert len(_served(x.chain)["raw_transactions"][6]) == 150
    assert cached and not [k for k in cached if k.startswith(block_rows.PREFIXES)]  # read
