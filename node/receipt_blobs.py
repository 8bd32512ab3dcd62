"""A block's receipts stored as a few rows without their blooms: what the node keeps of receipts since issue 18.

A receipt's consensus encoding carries a 256-byte bloom of its logs, and the receipt trie adds a hashed node
per receipt and branch nodes above: 538 bytes a grant on disk, most of it recomputable. Like geth, the node
stores each receipt without its bloom (rebuilt from the logs, byte for byte, when read) and, unlike the trie,
a block's receipts 64 to a row keyed by the receipt root and the row's number, with an offset table so that
one receipt is read without decoding the others: ``eth_getLogs`` by principal reads one receipt in each of
many blocks, and a whole full block's row (~120 kB) for each cost it a third more time (the rows:
``block_rows.py``, shared with transactions). The header's receipt root is unchanged:
``tests/node/test_receipt_blobs.py`` rebuilds it from the stored rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import rlp
from eth_bloom import BloomFilter
from eth_utils import int_to_big_endian
from rlp.codec import encode_raw

from . import block_rows
from .trie_nodes import item_end as _item_end

PREFIX = block_rows.RECEIPTS  # + the block's receipt root + the row's number (2 bytes)
PER_ROW = block_rows.PER_ROW  # receipts a row
count = block_rows.count


def key(receipt_root: bytes, row: int = 0) -> bytes:
    return block_rows.key(PREFIX, receipt_root, row)


def last_key(receipt_root: bytes) -> bytes:
    return block_rows.last_key(PREFIX, receipt_root)


class Receipt(Protocol):
    """What ``encode`` reads of a receipt (py-evm's, which this storage layer does not import)."""

    @property
    def state_root(self) -> bytes: ...
    @property
    def gas_used(self) -> int: ...
    @property
    def bloom(self) -> int: ...
    @property
    def logs(self) -> Sequence[Any]: ...


def encode(receipt: Receipt) -> bytes:
    """``receipt.encode()``, its consensus encoding (a typed receipt's with its type byte), with rlp's raw
    encoder: pyrlp's field-by-field serialization (the 256-byte bloom, each 32-byte topic) cost 52 us a grant's
    receipt, this 17 us."""
    body: bytes = encode_raw(
        [
            receipt.state_root,
            int_to_big_endian(receipt.gas_used) if receipt.gas_used else b"",
            receipt.bloom.to_bytes(256, "big"),
            [[log.address, [t.to_bytes(32, "big") for t in log.topics], log.data] for log in receipt.logs],
        ]
    )
    type_id = getattr(receipt, "type_id", None)  # None: a legacy receipt
    return body if type_id is None else bytes((type_id,)) + body


def rows(receipt_root: bytes, encoded: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """The rows (key, value) of a block's receipts (their consensus encodings, typed ones with their type
    byte): receipt ``i`` is item ``i % PER_ROW`` of row ``i // PER_ROW``."""
    return block_rows.rows(PREFIX, receipt_root, [_strip_bloom(r) for r in encoded])


def pack(encoded: Sequence[bytes]) -> bytes:
    """One row of receipts."""
    return block_rows.pack([_strip_bloom(r) for r in encoded])


def item(blob: bytes, index: int) -> bytes:
    """The consensus encoding of the row's receipt ``index`` (bloom rebuilt); KeyError past the last."""
    return _with_bloom(block_rows.item(blob, index))


def items(blob: bytes) -> list[bytes]:
    """Every receipt's consensus encoding in the row, in order."""
    return [_with_bloom(body) for body in block_rows.items(blob)]


def logs(blob: bytes, index: int) -> list[Any]:
    """The logs of the row's receipt ``index`` as RLP-decoded ``[address, topics, data]`` lists (no bloom
    computed)."""
    body = block_rows.item(blob, index)
    return list(rlp.decode(body[1:] if body[0] < 0xC0 else body)[2])


def _strip_bloom(encoded: bytes) -> bytes:
    """The receipt without its bloom, cut out of the encoding byte by byte (the status, gas and logs items are
    kept as they are; decoding and re-encoding every receipt with pyrlp took a tenth of sealing a block)."""
    prefix, payload = (encoded[:1], encoded[1:]) if encoded[0] < 0xC0 else (b"", encoded)
    status = _list_start(payload)
    bloom = _item_end(payload, _item_end(payload, status))
    logs = _item_end(payload, bloom)
    return prefix + _as_list(payload[status:bloom] + payload[logs : _item_end(payload, logs)])


def _list_start(data: bytes) -> int:
    """Where the items of the RLP list ``data`` begin."""
    first = data[0]
    if first < 0xC0:
        raise ValueError("not an RLP list")
    return 1 if first < 0xF8 else 1 + first - 0xF7


def _as_list(items: bytes) -> bytes:
    size = len(items)
    if size < 56:
        return bytes([0xC0 + size]) + items
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(length)]) + length + items


def _with_bloom(body: bytes) -> bytes:
    prefix, payload = (body[:1], body[1:]) if body[0] < 0xC0 else (b"", body)
    status, gas, entries = rlp.decode(payload)
    bloom = BloomFilter()
    for address, topics, _data in entries:
        bloom.add(address)
        for topic in topics:
            bloom.add(topic)
    encoded: bytes = rlp.encode([status, gas, int(bloom).to_bytes(256, "big"), entries])
    return prefix + encoded
