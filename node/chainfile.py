"""RLP chain files as ``geth import`` / ``geth export`` write them: concatenated RLP blocks, no separator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import rlp

from .chain import Chain
from .errors import InvalidBlock
from .trie_nodes import item_end


def iter_rlp_items(data: bytes) -> Iterator[list[Any]]:
    """Split concatenated RLP items without decoding them twice."""
    pos = 0
    while pos < len(data):
        end = item_end(data, pos)
        if end > len(data):
            raise InvalidBlock(f"chain file: truncated RLP item at byte {pos}")
        try:
            yield rlp.decode(data[pos:end])
        except rlp.exceptions.DecodingError as exc:
            raise InvalidBlock(f"chain file: malformed RLP at byte {pos}") from exc
        pos = end


def import_chain(chain: Chain, source: str | Path | bytes) -> int:
    """Import every block of an RLP chain file on top of ``chain``; returns how many were new."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    imported = 0
    for items in iter_rlp_items(data):
        block = chain.decode_block(items)
        if block.number == 0:
            continue
        if chain.import_block(block):
            imported += 1
    return imported


def export_chain(chain: Chain, sink: BinaryIO, first: int = 1, last: int | None = None) -> int:
    """Write canonical blocks ``first..last`` (default: through the head) as concatenated RLP."""
    last = chain.head.block_number if last is None else min(last, chain.head.block_number)
    count = 0
    for number in range(first, last + 1):
        sink.write(chain.encode_block(number))
        count += 1
    return count
