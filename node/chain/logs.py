"""Logs by filter (``eth_getLogs``, filters, subscriptions' history): through the log index when the filter
names an address or a topic, else a bloom-filtered scan; each log read as a record from the stored receipt
and transaction tries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import rlp
from eth.abc import BlockHeaderAPI
from eth_hash.auto import keccak

from .. import block_rows, receipt_blobs
from ..errors import TransactionRejected
from ..ordered_trie import ordered_trie_item, ordered_trie_items
from ..records import LogRecord
from .base import ChainBase
from .log_index import PLACE_BITS, criteria_keys
from .vms import topic_bytes

# A block with more matching logs than this is read whole (its receipts in one pass) instead of log by log.
WHOLE_BLOCK = 64


class Logs(ChainBase):
    def logs(
        self,
        first: int,
        last: int,
        addresses: Sequence[bytes],
        topics: Sequence[Sequence[bytes] | None],
        block_hash: bytes | None = None,
        limit: int = 10_000,
    ) -> list[LogRecord]:
        """Logs matching the filter, in chain order.

        With an address or a topic, the log index names the matching logs of the most selective criterion
        and only those are read (a whole block's receipts where most of the block matches): the cost follows
        the matching logs, not the blocks holding them. Without either, or for one block by hash, the blocks
        are scanned, skipping those whose bloom is empty.
        """
        if block_hash is not None:
            return self._scan_logs([self._header_by_hash(block_hash)], addresses, topics, limit)
        criteria = criteria_keys(addresses, topics)
        if not criteria:
            headers = (self._header_by_number(n) for n in range(first, last + 1))
            return self._scan_logs(headers, addresses, topics, limit)
        # The driver is the criterion with the fewest rows in the range. Counting starts with the topics at
        # the highest positions (indexed arguments: usually the most selective) and caps each count at the
        # best so far, so a common address or topic0 costs no more than the rare criterion it loses to.
        driver = criteria[-1]
        if len(criteria) > 1:
            best = self.store.count_logs(driver, first, last, limit + 1)
            for keys in reversed(criteria[:-1]):
                if best == 0:
                    break
                count = self.store.count_logs(keys, first, last, best)
                if count < best:
                    driver, best = keys, count
        found: list[LogRecord] = []
        address_set = set(addresses)
        for number, group in groupby(self.store.log_positions(driver, first, last), key=itemgetter(0)):
            header = self._header_by_number(number)
            positions = list(group)
            if len(positions) > WHOLE_BLOCK:
                entries: Iterable[LogRecord] = self._block_logs(header)
            else:
                entries = (self._log_at(header, index, at) for _, index, at in positions)
            for entry in entries:
                if (address_set and entry.address not in address_set) or not _topics_match(
                    entry.topics, topics
                ):
                    continue
                found.append(entry)
                if len(found) > limit:
                    raise TransactionRejected(f"query returned more than {limit} results")
        return found

    def _scan_logs(
        self,
        headers: Iterable[BlockHeaderAPI],
        addresses: Sequence[bytes],
        topics: Sequence[Sequence[bytes] | None],
        limit: int,
    ) -> list[LogRecord]:
        """The bloom-filtered scan: every log of every block with a non-empty bloom, checked one by one."""
        found: list[LogRecord] = []
        address_set = set(addresses)
        for header in headers:
            if header.bloom == 0:
                continue
            for entry in self._block_logs(header):
                if address_set and entry.address not in address_set:
                    continue
                if not _topics_match(entry.topics, topics):
                    continue
                found.append(entry)
                if len(found) > limit:
                    raise TransactionRejected(f"query returned more than {limit} results")
        return found

    def _block_logs(self, header: BlockHeaderAPI) -> tuple[LogRecord, ...]:
        """Every log of a block, from its receipts rows and its transactions rows (or an older block's tries, each
        read in one walk), receipts decoded as plain RLP (only their logs are needed) and transactions only
        hashed."""
        cached = self._receipt_records.get(header.hash)
        if cached is not None:
            return tuple(entry for receipt in cached for entry in receipt.logs)
        receipts = self._receipts.get(header.hash)
        if receipts is not None:
            per_tx: list[Any] = [r.logs for r in receipts]
        elif rows := self._rows(block_rows.RECEIPTS, header.receipt_root):
            per_tx = [
                [_RawLog(f) for f in receipt_blobs.logs(row, i)]
                for row in rows
                for i in range(receipt_blobs.count(row))
            ]
        else:  # a block stored before receipts rows: its receipt trie
            per_tx = [_raw_logs(r) for r in ordered_trie_items(self.history, header.receipt_root)]
        if not any(per_tx):
            return ()
        tx_hashes = [
            keccak(tx) for tx in self._stored_items(block_rows.TRANSACTIONS, header.transaction_root)
        ]
        out: list[LogRecord] = []
        for tx_index, (tx_hash, logs) in enumerate(zip(tx_hashes, per_tx, strict=True)):
            for entry in logs:
                out.append(log_record(header, tx_hash, tx_index, len(out), entry))
        return tuple(out)

    def _log_at(self, header: BlockHeaderAPI, index: int, at: int) -> LogRecord:
        """One log read from its receipt's row and its transaction's row (an older block's tries: a few nodes),
        not the whole block."""
        tx_index, place = at >> PLACE_BITS, at & ((1 << PLACE_BITS) - 1)
        found = self._row(block_rows.RECEIPTS, header.receipt_root, tx_index)
        if found is not None:
            logs = [_RawLog(f) for f in receipt_blobs.logs(*found)]
        else:
            logs = _raw_logs(ordered_trie_item(self.history, header.receipt_root, tx_index))
        tx_found = self._row(block_rows.TRANSACTIONS, header.transaction_root, tx_index)
        if tx_found is not None:
            tx_hash = keccak(block_rows.item(*tx_found))
        else:
            tx_hash = keccak(ordered_trie_item(self.history, header.transaction_root, tx_index))
        return log_record(header, tx_hash, tx_index, index, logs[place])


class _RawLog:
    """A log as RLP-decoded from a stored receipt: what ``log_record`` reads of py-evm's ``Log``."""

    __slots__ = ("address", "data", "topics")

    def __init__(self, fields: list[Any]) -> None:
        self.address, self.topics, self.data = fields


def _raw_logs(encoded: bytes) -> list[_RawLog]:
    """The logs of one stored receipt (legacy RLP list, or a typed receipt: type byte + RLP list)."""
    if encoded[0] < 0xC0:
        encoded = encoded[1:]
    return [_RawLog(fields) for fields in rlp.decode(encoded)[3]]


def log_record(header: BlockHeaderAPI, tx_hash: bytes, tx_index: int, index: int, entry: Any) -> LogRecord:
    return LogRecord(
        address=entry.address,
        topics=tuple(topic_bytes(t) for t in entry.topics),
        data=entry.data,
        block_number=header.block_number,
        block_hash=header.hash,
        tx_hash=tx_hash,
        tx_index=tx_index,
        log_index=index,
        block_timestamp=header.timestamp,
    )


def _topics_match(actual: Sequence[bytes], wanted: Sequence[Sequence[bytes] | None]) -> bool:
    if len(wanted) > len(actual):
        return False
    for pos, alternatives in enumerate(wanted):
        if alternatives and actual[pos] not in alternatives:
            return False
    return True
