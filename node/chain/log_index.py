"""The log index's rows: which (address / topic position) keys point at which canonical log of a block."""

from __future__ import annotations

from collections.abc import Sequence

from eth.abc import ReceiptAPI

from ..storage import LogRow, address_key, topic_key
from .vms import topic_bytes

# A log's place inside its receipt is packed under its transaction's index (``at`` column). 32 bits: a
# transaction's logs are bounded by gas (375 a LOG0), far below 2**32 at any block gas limit SQLite's 64-bit
# integers leave room for.
PLACE_BITS = 32


def rows_for(number: int, receipts: Sequence[ReceiptAPI]) -> list[LogRow]:
    """Index rows of block ``number``: one per address and per topic of each of its logs."""
    rows: list[LogRow] = []
    index = 0
    for tx_index, receipt in enumerate(receipts):
        for place, entry in enumerate(receipt.logs):
            at = tx_index << PLACE_BITS | place
            rows.append((address_key(entry.address), number, index, at))
            for position, topic in enumerate(entry.topics):
                rows.append((topic_key(position, topic_bytes(topic)), number, index, at))
            index += 1
    return rows


def criteria_keys(addresses: Sequence[bytes], topics: Sequence[Sequence[bytes] | None]) -> list[list[int]]:
    """A filter as index keys: one list per criterion (its alternatives are ORed, the lists ANDed)."""
    criteria: list[list[int]] = []
    if addresses:
        criteria.append([address_key(a) for a in addresses])
    for position, alternatives in enumerate(topics):
        if alternatives:
            criteria.append([topic_key(position, t) for t in alternatives])
    return criteria
