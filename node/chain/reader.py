"""User calls on committed state from threads other than the chain thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.exceptions import HeaderNotFound
from eth.vm.interrupt import EVMMissingData
from eth_typing import Hash32
from trie.exceptions import MissingTrieNode

from ..errors import NotFound, StateUnavailable
from ..records import HeaderRecord
from ..storage import OverlayDB, StoreReader
from .base import ChainBase
from .chaindb import NodeChainDB
from .execution import Calls
from .headers import evm_header
from .vms import LRU

_T = TypeVar("_T")


class CallReader(Calls):
    """User calls on committed state from a thread other than the chain thread, so they never hold up sealing.

    It shares only what never changes after ``Chain`` is built (genesis, VM classes); state comes through its
    own ``StoreReader`` and every call writes into a throwaway ``OverlayDB``. One per thread. Blocks come in
    as records; their py-evm headers are rebuilt here (and kept for the next call on the same block).
    """

    def __init__(self, chain: ChainBase) -> None:
        self.genesis = chain.genesis
        self.chain_context = chain.chain_context
        self._vm_classes = chain._vm_classes
        self._context_class = chain.context_class
        self._reader: StoreReader = chain.store.reader()
        self._derived_classes = {}
        self._headers: LRU[bytes, BlockHeaderAPI] = LRU(16)

    def run(self, fn: Callable[[CallReader], _T]) -> _T:
        """``fn(self)``: one request. The chain thread prunes while calls run here, so a state checked as kept
        may leave the window while ``fn`` walks it; the trie nodes it then misses answer as a state pruned
        before the request did (``StateUnavailable``, geth's -32000), not as a broken store."""
        walked: list[bytes] = []
        self._walked = walked
        try:
            return fn(self)
        except (EVMMissingData, MissingTrieNode) as exc:
            for root in walked:
                if not self._has_state_root(root):
                    raise StateUnavailable(root) from exc
            raise  # a node missing from a state still kept: a real fault, reported as such
        finally:
            self._walked = None

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        return self._vm_classes[self.genesis.schedule.fork_at(number, timestamp)]

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        cls = vm_class or self.vm_class_for(header.block_number, header.timestamp)
        db = AtomicDB(OverlayDB(self._reader))
        return cls(
            header=header,
            chaindb=NodeChainDB(db),
            chain_context=self.chain_context,
            consensus_context=self._context_class(db),
        )

    def _has_state_root(self, state_root: bytes) -> bool:
        return state_root == BLANK_ROOT_HASH or self._reader.has(state_root)

    def _evm_header(self, block: HeaderRecord) -> BlockHeaderAPI:
        header = self._headers.get(block.hash)
        if header is None:
            header = evm_header(block, self.vm_class_for(block.number, block.timestamp))
            self._headers.put(block.hash, header)
        return header

    def _replay_inputs(
        self, header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[SignedTransactionAPI, ...]]:
        chaindb = NodeChainDB(AtomicDB(OverlayDB(self._reader)))
        try:
            parent = chaindb.get_block_header_by_hash(Hash32(header.parent_hash))
        except HeaderNotFound as exc:
            raise NotFound(f"block 0x{header.parent_hash.hex()} not found") from exc
        block_class = self.vm_class_for(header.block_number, header.timestamp).get_block_class()
        return parent, tuple(block_class.from_header(header, chaindb).transactions)

    def close(self) -> None:
        self._reader.close()
