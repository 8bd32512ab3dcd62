"""A block's transactions or receipts stored 64 to a row under their trie's root, instead of as the trie's nodes.

The transaction and receipt tries of a block are only ever read whole or item by item, never proved, so the
node keeps the items themselves: rows keyed by a prefix, the trie's root (the header names it) and the row's
number, each with an offset table so that one item is read without decoding the others (``eth_getLogs`` by
principal reads one transaction and one receipt in each of many blocks). The trie would add a hashed node per
item and branch nodes above it. A row is stored compressed with zlib (level 1): 64 grants' transactions
share their recipient, fee fields and calldata layout, their receipts their log's address and topic, and the
rows shrink to ~46 % and ~19 % (P4's grants; ~0.3 ms of CPU a row to compress, ~0.05 to inflate). The header's
roots are computed as before (``ordered_trie.py``) and checked on import; a block stored before has its tries,
which are read as they are, and a row stored before compression is read as it is.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

RECEIPTS = b"receipts:"  # + the block's receipt root + the row's number (2 bytes): receipt_blobs.py
TRANSACTIONS = b"transactions:"  # + the block's transaction root + the row's number: canonical encodings
PREFIXES = (RECEIPTS, TRANSACTIONS)
PER_ROW = 64  # items a row
_WIDTH = 4  # bytes of the count and of each end offset
_LEVEL = 1  # zlib's fastest: levels 6 and 9 shrank P4's rows by under 1 % more, for 1.3x and 1.7x the time
_ZLIB = 0x78  # the first byte of every zlib stream (deflate, 32 kB window); a packed row's is its count's, 0


def key(prefix: bytes, root: bytes, row: int = 0) -> bytes:
    return prefix + root + row.to_bytes(2, "big")


def last_key(prefix: bytes, root: bytes) -> bytes:
    return key(prefix, root, 0xFFFF)


def rows(prefix: bytes, root: bytes, items: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """The rows (key, stored value) of a block's items: item ``i`` is item ``i % PER_ROW`` of row
    ``i // PER_ROW``."""
    return [
        (key(prefix, root, n), zlib.compress(pack(items[start : start + PER_ROW]), _LEVEL))
        for n, start in enumerate(range(0, len(items), PER_ROW))
    ]


def unpack(stored: bytes) -> bytes:
    """A row as stored (compressed, or packed by a node before compression) -> packed, for the readers below."""
    return zlib.decompress(stored) if stored[0] == _ZLIB else stored


def pack(items: Sequence[bytes]) -> bytes:
    """One row, packed: the count, the end offset of every item, the items (``count``, ``item`` and ``items``
    read this form)."""
    ends, end = [], 0
    for body in items:
        end += len(body)
        ends.append(end)
    head = len(items).to_bytes(_WIDTH, "big") + b"".join(e.to_bytes(_WIDTH, "big") for e in ends)
    return head + b"".join(items)


def count(blob: bytes) -> int:
    return int.from_bytes(blob[:_WIDTH], "big")


def item(blob: bytes, index: int) -> bytes:
    """The row's item ``index``; KeyError past the last."""
    n = count(blob)
    if not 0 <= index < n:
        raise KeyError(index)
    base = _WIDTH * (n + 1)
    start = int.from_bytes(blob[_WIDTH * index : _WIDTH * (index + 1)], "big") if index else 0
    end = int.from_bytes(blob[_WIDTH * (index + 1) : _WIDTH * (index + 2)], "big")
    return blob[base + start : base + end]


def items(blob: bytes) -> list[bytes]:
    """Every item of the row, in order."""
    n = count(blob)
    base, start, out = _WIDTH * (n + 1), 0, []
    for i in range(1, n + 1):
        end = int.from_bytes(blob[_WIDTH * i : _WIDTH * (i + 1)], "big")
        out.append(blob[base + start : base + end])
        start = end
    return out
