"""Receipts stored 64 to a row without blooms: the header's receipt root rebuilt from the rows, the same
receipts and logs served as before, built and imported blocks alike, and an older datadir's receipt tries
still read."""

from __future__ import annotations

import time
from pathlib import Path

import rlp
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.prague.receipts import PragueReceiptBuilder
from eth_bloom import BloomFilter
from hypothesis import given
from hypothesis import strategies as st
from pamchain.node import block_rows
from pamchain.node import receipt_blobs as blobs
from pamchain.node.chain import Chain
from pamchain.node.ordered_trie import ordered_trie_root

from .test_log_index import CONTRACTS, SIGNERS, TOPICS, Builder, _doc


def _chains(tmp_path: Path | None = None) -> tuple[Builder, Builder, int]:
    """Six blocks: 1-3 transactions and receipts, none (block 4), and 150 (block 6: three rows); built on one
    chain, imported into the other (also the transactions rows' test chains)."""
    start = int(time.time()) - 1_000
    doc = _doc(start)
    x, y = Builder(doc, tmp_path), Builder(doc)
    for n in range(1, 7):
        logs = [(n % 3, n % 4, (n + 1) % 4, n), (0, 1, 2, 40), (2, 3, 0, 0)][: 1 + n % 3]
        if n == 6:
            logs = [(i % 3, i % 4, 3 - i % 4, i % 7) for i in range(150)]
        x.block(logs if n != 4 else [], SIGNERS[n % 5], start + n)
        assert y.chain.import_block(x.chain._evm_block(x.chain.head))
    return x, y, start


def _stored(chain: Chain, receipt_root: bytes) -> list[bytes]:
    stored = chain.store.values_between(blobs.key(receipt_root), blobs.last_key(receipt_root))
    return [block_rows.unpack(row) for row in stored]


def _items(rows: list[bytes]) -> list[bytes]:
    return [r for row in rows for r in blobs.items(row)]


def test_receipts__one_row_a_block__rebuilds_the_header_root_and_no_trie_is_stored() -> None:
    x, y, _ = _chains()
    for chain in (x.chain, y.chain):  # built, and imported
        for n in range(1, 7):
            header = chain._header_by_number(n)
            rows = _stored(chain, header.receipt_root)
            if n == 4:  # no transactions: the blank root, nothing stored
                assert rows == [] and not chain.block_receipts(chain.header_by_number(n))
                continue
            assert len(rows) == (3 if n == 6 else 1)
            assert ordered_trie_root(_items(rows))[0] == header.receipt_root
            assert chain.store.get(header.receipt_root) is None  # the trie's root node is not stored
            assert sum(map(len, rows)) < sum(map(len, _items(rows))) - 200 * len(_items(rows))


def test_receipts__served_as_before__after_the_caches_are_cleared() -> None:
    x, y, _ = _chains()
    wanted = [x.chain.block_receipts(x.chain.header_by_number(n)) for n in range(7)]
    logs = x.chain.logs(0, 6, [], [])
    for chain in (x.chain, y.chain):
        chain._receipts.clear()
        chain._receipt_records.clear()
        assert [chain.block_receipts(chain.header_by_number(n)) for n in range(7)] == wanted
        assert chain.logs(0, 6, [], []) == logs
        assert chain.logs(0, 6, [CONTRACTS[0]], [[TOPICS[1]]]) == [
            e for e in logs if e.address == CONTRACTS[0] and e.topics[0] == TOPICS[1]
        ]
        assert chain.raw_receipts(chain.header_by_number(6)) == _items(
            _stored(chain, chain._header_by_number(6).receipt_root)
        )
        sixth = [e for e in logs if e.block_number == 6]
        assert len(sixth) == 150
        assert chain.logs(6, 6, [CONTRACTS[2]], []) == [e for e in sixth if e.address == CONTRACTS[2]]


def test_receipts__older_datadir_with_receipt_tries__still_read(tmp_path: Path) -> None:
    """A datadir written before: its blocks' receipts are in receipt tries (here: the rows swapped back for
    the trie nodes); they read the same, and new blocks are stored the new way."""
    x, _, start = _chains(tmp_path)
    wanted = [x.chain.block_receipts(x.chain.header_by_number(n)) for n in range(7)]
    logs = x.chain.logs(0, 6, [], [])
    conn = x.chain.store._conn
    for n in range(1, 7):
        root = x.chain._header_by_number(n).receipt_root
        rows = _stored(x.chain, root)
        if not rows:
            continue
        _, nodes = ordered_trie_root(_items(rows))
        conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", nodes.items())
        conn.execute("DELETE FROM kv WHERE k BETWEEN ? AND ?", (blobs.key(root), blobs.last_key(root)))
    x.chain.store.close()
    reopened = Builder(_doc(start), tmp_path)
    reopened.nonce = x.nonce
    chain = reopened.chain
    assert [chain.block_receipts(chain.header_by_number(n)) for n in range(7)] == wanted
    assert chain.logs(0, 6, [], []) == logs
    reopened.block([(0, 1, 2, 3)], SIGNERS[7 % 5], start + 7)
    assert _stored(chain, chain._header_by_number(7).receipt_root)
    chain._receipts.clear()
    chain._receipt_records.clear()
    assert [r.status for r in chain.block_receipts(chain.header_by_number(7))] == [1]


_LOG = st.tuples(
    st.binary(min_size=20, max_size=20),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4),
    st.binary(max_size=300),
)


@given(
    st.sampled_from([b"", b"\x01", b"\x02", b"\x04"]),
    st.sampled_from([b"", b"\x01"]),
    st.integers(0, 2**64),
    st.lists(_LOG, max_size=6),
)
def test_receipt_rows__bloom_cut_out_byte_by_byte__read_back_whole(
    type_byte: bytes, status: bytes, gas: int, logs: list[tuple[bytes, list[bytes], bytes]]
) -> None:
    """Storing a receipt cuts its bloom out of the encoding without decoding it; reading rebuilds the very
    same consensus encoding (bloom from the logs), for legacy and typed receipts, short and long."""
    bloom = BloomFilter()
    for address, topics, _data in logs:
        bloom.add(address)
        for topic in topics:
            bloom.add(topic)
    entries = [[address, topics, data] for address, topics, data in logs]
    encoded = type_byte + rlp.encode([status, gas, int(bloom).to_bytes(256, "big"), entries])
    stored = blobs.pack([encoded])
    assert blobs.item(stored, 0) == encoded
    assert blobs._strip_bloom(encoded) == type_byte + rlp.encode([status, gas, entries])


_LOGS = st.lists(
    st.tuples(
        st.binary(min_size=20, max_size=20),
        st.lists(st.integers(0, 2**256 - 1), max_size=4),
        st.binary(max_size=200),
    ),
    max_size=4,
)


@given(st.sampled_from([None, 1, 2, 4]), st.booleans(), st.integers(0, 2**64), _LOGS)
def test_encode__same_bytes_as_py_evm(
    type_id: int | None, success: bool, gas: int, logs: list[tuple[bytes, list[int], bytes]]
) -> None:
    inner = Receipt(b"\x01" if success else b"", gas, [Log(a, tuple(t), d) for a, t, d in logs])
    receipt = inner if type_id is None else PragueReceiptBuilder.typed_receipt_class(type_id, inner)
    assert blobs.encode(receipt) == receipt.encode()
