"""Building and sealing: execute pooled transactions on the head, seal with the signer's key, validate, commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI, WithdrawalAPI
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from eth_utils import ValidationError

from .. import consensus
from ..errors import (
    AccountNotAllowed,
)
from ..records import (
    PoolTx,
)
from .base import ChainBase
from .execution import geth_reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    number: int
    hash: bytes
    timestamp: int
    included: tuple[bytes, ...]
    dropped: tuple[tuple[bytes, str], ...]


class Building(ChainBase):
    """Block production on the head (chain thread)."""

    # ------------------------------------------------------------------------------------------ building
    def build_block(
        self,
        txs: Sequence[PoolTx],
        signer: Address,
        key: PrivateKey,
        timestamp: int | None = None,
        vote: consensus.Vote | None = None,
    ) -> BuildResult:
        """Execute ``txs`` (already in nonce order per sender) on the head, seal, validate and commit.

        Transactions that cannot go in (sender not allowed at the parent state, fee below base fee,
        nonce/balance no longer fitting) are reported in ``dropped`` rather than failing the block.
        """
        parent = self.head
        ts = max(int(time.time()) if timestamp is None else timestamp, parent.timestamp + self.timestamp_step)
        base_class = self.vm_class_for(parent.block_number + 1, ts)
        vm_class = consensus.sealing_vm_class(base_class, signer)
        header = vm_class.create_header_from_parent(parent, timestamp=ts, gas_limit=parent.gas_limit)
        assert self.genesis.clique is not None
        header = consensus.prepare_header(
            header, self._signers(parent), signer, self.genesis.clique.epoch, vote=vote
        )
        base_fee = getattr(header, "base_fee_per_gas", None)

        chosen: list[PoolTx] = []
        dropped: list[tuple[bytes, str]] = []
        gas_left = self.genesis.block_gas_budget(header.gas_limit)  # the gas target on a free-gas chain
        blocked_senders: set[bytes] = set()
        for ptx in txs:
            if ptx.sender in blocked_senders:
                dropped.append((ptx.hash, "earlier transaction of the sender was dropped"))
                continue
            if not self._is_allowed(ptx.sender, parent):
                blocked_senders.add(ptx.sender)
                dropped.append((ptx.hash, str(AccountNotAllowed(ptx.sender))))
                continue
            if base_fee is not None and ptx.fee_cap < base_fee:
                blocked_senders.add(ptx.sender)  # keep nonce order: later ones cannot go either
                continue  # not dropped: it may fit once the base fee falls
            if ptx.gas > gas_left:
                blocked_senders.add(ptx.sender)
                continue
            gas_left -= ptx.gas
            chosen.append(ptx)

        try:
            block, receipts = self._execute_block(vm_class, header, [p.evm for p in chosen])
        except ValidationError as exc:
            # A transaction became invalid inside the block (e.g. balance drained by a delegated account).
            # Rebuild without it; rare, so the slower per-transaction probe is acceptable here.
            self.db.discard()
            log.warning("block build failed (%s); probing transactions one by one", exc)
            good, bad = self._probe(vm_class, header, chosen)
            dropped.extend((p.hash, reason) for p, reason in bad)
            chosen = good
            block, receipts = self._execute_block(vm_class, header, [p.evm for p in chosen])

        sealed = block.copy(header=consensus.seal_header(block.header, key))
        try:
            self._validate_header_chain(sealed.header, parent)
            self.chaindb.persist_block(sealed)
            self._commit(sealed, receipts)
        except BaseException:
            self.db.discard()
            raise
        return BuildResult(
            number=sealed.number,
            hash=sealed.hash,
            timestamp=sealed.header.timestamp,
            included=tuple(p.hash for p in chosen),
            dropped=tuple(dropped),
        )

    def _execute_block(
        self, vm_class: Any, header: BlockHeaderAPI, txs: Sequence[SignedTransactionAPI]
    ) -> tuple[BlockAPI, tuple[ReceiptAPI, ...]]:
        vm = self._vm(header, vm_class)
        vm.block_preprocessing(vm.get_block())
        new_header, receipts, _computations = vm.apply_all_transactions(txs, header)
        withdrawals: list[WithdrawalAPI] | None = [] if hasattr(header, "withdrawals_root") else None
        filled = vm.set_block_transactions_and_withdrawals(
            vm.get_block(), new_header, txs, receipts, withdrawals=withdrawals
        )
        vm._built_receipts = receipts  # see _deposits_from_built_receipts
        processed = vm.block_postprocessing(filled)
        return vm.mine_block(processed).block, receipts

    def _probe(
        self, vm_class: Any, header: BlockHeaderAPI, candidates: Sequence[PoolTx]
    ) -> tuple[list[PoolTx], list[tuple[PoolTx, str]]]:
        vm = self._vm(header, vm_class)
        vm.block_preprocessing(vm.get_block())
        good: list[PoolTx] = []
        bad: list[tuple[PoolTx, str]] = []
        current = header
        for ptx in candidates:
            snapshot = vm.state.snapshot()
            try:
                receipt, _ = vm.apply_transaction(current, ptx.evm)
                current = vm.add_receipt_to_header(current, receipt)
                vm.state.commit(snapshot)
                good.append(ptx)
            except ValidationError as exc:
                vm.state.revert(snapshot)
                bad.append((ptx, geth_reason(str(exc))))
        self.db.discard()
        return good, bad
