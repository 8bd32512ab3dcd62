"""User calls on committed state from threads other than the chain thread."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB

from ..storage import OverlayDB, StoreReader
from .base import ChainBase
from .execution import Calls


class CallReader(Calls):
    """User calls on committed state from a thread other than the chain thread, so they never hold up sealing.

    It shares only what never changes after ``Chain`` is built (genesis, VM classes); state comes through its
    own ``StoreReader`` and every call writes into a throwaway ``OverlayDB``. One per thread.
    """

    def __init__(self, chain: ChainBase) -> None:
        self.genesis = chain.genesis
        self.chain_context = chain.chain_context
        self._vm_classes = chain._vm_classes
        self._context_class = chain.context_class
        self._reader: StoreReader = chain.store.reader()
        self._timed_classes = {}

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        return self._vm_classes[self.genesis.schedule.fork_at(number, timestamp)]

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        cls = vm_class or self.vm_class_for(header.block_number, header.timestamp)
        db = AtomicDB(OverlayDB(self._reader))
        return cls(
            header=header,
            chaindb=ChainDB(db),
            chain_context=self.chain_context,
            consensus_context=self._context_class(db),
        )

    def close(self) -> None:
        self._reader.close()
