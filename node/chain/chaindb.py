"""py-evm's ``ChainDB`` reading a block's transactions from its rows (``block_rows.py``), or from the transaction
trie of a block stored before them, and without its header-gap bookkeeping (which side branches broke)."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, DatabaseAPI, SignedTransactionAPI, TransactionDecoderAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.chain import ChainDB
from eth.db.chain_gaps import GapChange, GapInfo
from eth.typing import ChainGaps
from eth_hash.auto import keccak
from eth_typing import Hash32

from .. import block_rows


def stored_transactions(db: Any, transaction_root: bytes) -> list[bytes]:
    """The canonical encodings of a block's transactions, by index, as stored under ``transaction_root``.

    Read through ``db`` (staged writes included: a block being imported is canonicalised before its commit).
    A block without rows was stored before them: py-evm's read of its trie, which raises ``MissingTrieNode``
    (``BlockNotFound`` to ``Block.from_header``) when the trie is absent.
    """
    if transaction_root == BLANK_ROOT_HASH:
        return []
    found: list[bytes] = []
    for n in range(0x10000):
        try:
            blob = block_rows.unpack(db[block_rows.key(block_rows.TRANSACTIONS, transaction_root, n)])
        except KeyError:
            break
        found.extend(block_rows.items(blob))
        if block_rows.count(blob) < block_rows.PER_ROW:
            break
    if found:
        return found
    return list(ChainDB._get_block_data_from_root_hash(db, Hash32(transaction_root)))


class NodeChainDB(ChainDB):
    """The node's ``ChainDB``: every read of a block's transactions (blocks served, replays, the transaction
    lookups a reorg rewrites) goes through ``stored_transactions``; headers, scores and lookups are py-evm's,
    except that header gaps are never tracked (``_update_header_chain_gaps``)."""

    def get_block_transactions(
        self, header: BlockHeaderAPI, transaction_decoder: type[TransactionDecoderAPI]
    ) -> tuple[SignedTransactionAPI, ...]:
        return tuple(
            transaction_decoder.decode(encoded)
            for encoded in stored_transactions(self.db, header.transaction_root)
        )

    @classmethod
    def _get_block_transaction_hashes(
        cls, db: DatabaseAPI, block_header: BlockHeaderAPI
    ) -> tuple[Hash32, ...]:
        return tuple(
            Hash32(keccak(encoded)) for encoded in stored_transactions(db, block_header.transaction_root)
        )

    @classmethod
    def _update_header_chain_gaps(
        cls, db: DatabaseAPI, persisting_header: BlockHeaderAPI, base_gaps: ChainGaps | None = None
    ) -> GapInfo:
        """No gap change, ever: canonicality is fork choice's alone (``persist_block``'s score rule and
        ``Chain._canonicalize``).

        py-evm records which header *numbers* it holds, for header-first sync (which the node does not do), and
        assumes every header it persists at a number it lacked is canonical. A node keeps side branches, and they
        broke that: for a header at a number already held, ChainDB read the canonical header there (a side block
        above the head - EIP-3436 keeps an equally heavy but shorter branch - has none: HeaderNotFound on every
        later block at that height, imported or sealed, and the node stopped for good); a header filling a gap
        that a reorganisation had reopened was made canonical whatever fork choice said, and the canonical child
        read next to it could be missing too. Appends never went through that code; the record is left as is.
        """
        return GapChange.NoChange, cls._get_header_chain_gaps(db) if base_gaps is None else base_gaps
