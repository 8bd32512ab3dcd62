"""py-evm's ``ChainDB`` reading a block's transactions from its rows (``block_rows.py``), or from the transaction
trie of a block stored before them."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI, DatabaseAPI, SignedTransactionAPI, TransactionDecoderAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.chain import ChainDB
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
    lookups a reorg rewrites) goes through ``stored_transactions``; headers, scores and lookups are py-evm's."""

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
