"""The rows a block's transactions and receipts are stored in: packed with an offset table, stored compressed,
every item read back alone or all together, and a row stored uncompressed (before compression) read as it is."""

from __future__ import annotations

import time
import zlib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pamchain.node import block_rows

from .test_log_index import SIGNERS, Builder, _doc

_ITEMS = st.lists(st.binary(min_size=1, max_size=600), min_size=1, max_size=200)


@given(st.sampled_from(block_rows.PREFIXES), st.binary(min_size=32, max_size=32), _ITEMS)
def test_rows__stored_compressed__every_item_read_back(
    prefix: bytes, root: bytes, items: list[bytes]
) -> None:
    stored = block_rows.rows(prefix, root, items)
    assert [k for k, _ in stored] == [block_rows.key(prefix, root, n) for n in range(len(stored))]
    assert all(block_rows.key(prefix, root) <= k <= block_rows.last_key(prefix, root) for k, _ in stored)
    unpacked = [block_rows.unpack(v) for _, v in stored]
    assert [block_rows.count(r) for r in unpacked] == [
        min(block_rows.PER_ROW, len(items) - s) for s in range(0, len(items), block_rows.PER_ROW)
    ]
    assert [i for r in unpacked for i in block_rows.items(r)] == items
    assert [block_rows.item(r, i) for r in unpacked for i in range(block_rows.count(r))] == items
    assert all(v[0] == 0x78 and zlib.decompress(v) == r for (_, v), r in zip(stored, unpacked, strict=True))


@given(_ITEMS)
def test_rows__packed_row_stored_before_compression__unpacks_as_it_is(items: list[bytes]) -> None:
    packed = block_rows.pack(items[: block_rows.PER_ROW])
    assert packed[0] == 0 and block_rows.unpack(packed) is packed


def test_rows__datadir_with_uncompressed_rows__reads_the_same(tmp_path: Path) -> None:
    """A datadir whose transactions and receipts rows were written packed but not compressed (the receipts
    rows of a node before compression) answers the same, and its new blocks' rows are compressed."""
    start = int(time.time()) - 1_000
    built = Builder(_doc(start), tmp_path)
    for n in range(1, 4):
        built.block([(i % 3, i % 4, (i + n) % 4, i) for i in range(n * 40)], SIGNERS[n % 5], start + n)
    chain = built.chain
    head = chain.header_by_number(3)
    wanted = (
        [chain.block_record(chain.header_by_number(n)) for n in range(4)],
        [chain.block_receipts(chain.header_by_number(n)) for n in range(4)],
        chain.logs(0, 3, [], []),
    )
    conn = chain.store._conn
    rows = conn.execute(
        "SELECT k, v FROM kv WHERE k >= ? AND k < ?", (b"receipts:", b"transactions;")
    ).fetchall()
    rows = [(k, v) for k, v in rows if k.startswith(block_rows.PREFIXES)]
    assert len(rows) == 2 * (1 + 2 + 2) and all(v[0] == 0x78 for _, v in rows)
    conn.executemany("UPDATE kv SET v = ? WHERE k = ?", [(zlib.decompress(v), k) for k, v in rows])
    chain.store.close()
    reopened = Builder(_doc(start), tmp_path)
    reopened.nonce = built.nonce
    chain = reopened.chain
    assert chain.header_by_number(3) == head
    assert (
        [chain.block_record(chain.header_by_number(n)) for n in range(4)],
        [chain.block_receipts(chain.header_by_number(n)) for n in range(4)],
        chain.logs(0, 3, [], []),
    ) == wanted
    assert chain.logs(0, 3, [b"\xc1" * 20], []) == [e for e in wanted[2] if e.address == b"\xc1" * 20]
    reopened.block([(0, 1, 2, 3)], SIGNERS[4], start + 4)
    root = chain._header_by_number(4).transaction_root
    assert (chain.store.get(block_rows.key(block_rows.TRANSACTIONS, root)) or b"")[:1] == b"\x78"
