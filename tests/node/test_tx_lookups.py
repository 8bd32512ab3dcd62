"""Transaction lookups (hash -> block, index) kept under a 38-byte key instead of py-evm's ~125-byte one; an
older datadir's long keys still found."""

from __future__ import annotations

import time
from pathlib import Path

from eth.db.schema import SchemaV1
from eth_typing import Hash32
from hypothesis import given
from hypothesis import strategies as st
from pamchain.node.storage import _tx_lookup_row

from .test_log_index import SIGNERS, Builder, _doc


def _rows(builder: Builder, prefix: bytes) -> list[tuple[bytes, bytes]]:
    conn = builder.chain.store._conn
    return conn.execute("SELECT k, v FROM kv WHERE substr(k, 1, ?) = ?", (len(prefix), prefix)).fetchall()


@given(st.binary(max_size=40))
def test_lookup_key__any_hash__read_back_from_py_evm_key(tx_hash: bytes) -> None:
    # every byte value, quotes and backslashes included: repr switches quotes and escapes
    key = SchemaV1.make_transaction_hash_to_block_lookup_key(Hash32(tx_hash))
    assert _tx_lookup_row(key) == b"tx:" + tx_hash
    assert _tx_lookup_row(b"block-hash-to-score:" + tx_hash) is None


def test_lookups__short_rows__every_transaction_found(tmp_path: Path) -> None:
    start = int(time.time()) - 1_000
    built = Builder(_doc(start), tmp_path)
    for n in range(1, 4):
        built.block([(0, 1, 2, n), (1, 2, 3, 0)], SIGNERS[n % 5], start + n)
    assert not _rows(built, b"transaction-hash-to-block:")
    rows = _rows(built, b"tx:")
    assert len(rows) == 6 and all(len(k) == 35 for k, _ in rows)
    for n in range(1, 4):
        block = built.chain.header_by_number(n)
        for index, tx_hash in enumerate(built.chain.tx_hashes(block)):
            assert built.chain.locate(tx_hash) == (block, index)
    assert built.chain.locate(b"\x01" * 32) is None


def test_lookups__older_datadir_long_keys__found_and_replaced_when_moved(tmp_path: Path) -> None:
    start = int(time.time()) - 1_000
    built = Builder(_doc(start), tmp_path)
    for n in range(1, 3):
        built.block([(0, 1, 2, n)], SIGNERS[n % 5], start + n)
    conn = built.chain.store._conn
    for key, value in _rows(built, b"tx:"):  # back to py-evm's keys, as an older node wrote them
        long_key = SchemaV1.make_transaction_hash_to_block_lookup_key(Hash32(key[3:]))
        conn.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (long_key, value))
        conn.execute("DELETE FROM kv WHERE k=?", (key,))
    built.chain.store.close()
    reopened = Builder(_doc(start), tmp_path)
    reopened.nonce = built.nonce
    chain = reopened.chain
    for n in range(1, 3):
        block = chain.header_by_number(n)
        (tx_hash,) = chain.tx_hashes(block)
        assert chain.locate(tx_hash) == (block, 0)
    reopened.block([(0, 1, 2, 9)], SIGNERS[3], start + 3)
    (new_hash,) = chain.tx_hashes(chain.header_by_number(3))
    assert chain.locate(new_hash) == (chain.header_by_number(3), 0)
    assert len(_rows(reopened, b"transaction-hash-to-block:")) == 2 and len(_rows(reopened, b"tx:")) == 1
