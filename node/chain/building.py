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
from .base import ChainBase, evm_transaction
from .execution import geth_reason
from .vms import NODE_FAULTS, RunningHeader, apply_or_revert

log = logging.getLogger(__name__)

_MIN_TX_GAS = 21_000  # the least gas any transaction uses


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
        budget = self.genesis.block_gas_budget(header.gas_limit)  # the gas target on a free-gas chain
        try:
            ffg = self._cast_vote(parent, signer) if self.seal_check else None
            header = consensus.prepare_header(
                header,
                self._signers(parent),
                signer,
                self.genesis.clique.epoch,
                vanity=ffg.vanity() if ffg else b"",
                vote=vote,
            )
            block, receipts, chosen, dropped = self._fill_block(
                self._vm(header, vm_class), header, parent, txs, budget
            )
            sealed = block.copy(header=consensus.seal_header(block.header, key))
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

    def _fill_block(
        self,
        vm: Any,
        header: BlockHeaderAPI,
        parent: BlockHeaderAPI,
        candidates: Sequence[PoolTx],
        budget: int,
    ) -> tuple[BlockAPI, tuple[ReceiptAPI, ...], list[PoolTx], list[tuple[bytes, str]]]:
        """Execute ``candidates`` in order while they fit, packing by gas *used* as geth does: a transaction
        goes in if its gas limit fits in what the block has left after the ones before it actually used.

        A transaction that turns out invalid (nonce or balance no longer fitting, e.g. drained by a delegated
        account) or whose execution raises (``NODE_FAULTS`` apart) is reverted and dropped; one that does not
        fit, or whose fee is below the base fee, waits. Either way the sender's later transactions wait too
        (nonce order). Returns the block, its receipts, the included and the dropped transactions (hash,
        reason).
        """
        base_fee = getattr(header, "base_fee_per_gas", None)
        chosen: list[PoolTx] = []
        dropped: list[tuple[bytes, str]] = []
        receipts: list[ReceiptAPI] = []
        waiting: set[bytes] = set()  # senders whose next transaction waits (fee, gas): later ones wait too
        failed: set[bytes] = set()  # senders with a dropped transaction: their later ones cannot go in
        vm.block_preprocessing(vm.get_block())
        current = RunningHeader(header) if RunningHeader.applies_to(vm) else header
        for ptx in candidates:
            if ptx.sender in failed:
                dropped.append((ptx.hash, "earlier transaction of the sender was dropped"))
                continue
            if ptx.sender in waiting or budget - current.gas_used < _MIN_TX_GAS:
                continue  # (full: not even a plain transfer fits; later candidates are only looked at)
            if not self._is_allowed(ptx.sender, parent):
                failed.add(ptx.sender)
                dropped.append((ptx.hash, str(AccountNotAllowed(ptx.sender))))
                continue
            if (base_fee is not None and ptx.fee_cap < base_fee) or current.gas_used + ptx.gas > budget:
                waiting.add(ptx.sender)  # fits once the base fee falls / in a later block
                continue
            try:
                receipt, _computation = apply_or_revert(vm, current, evm_transaction(ptx))
            except ValidationError as exc:  # invalid here (nonce, funds, a geth validity rule)
                failed.add(ptx.sender)
                dropped.append((ptx.hash, geth_reason(str(exc))))
                continue
            except NODE_FAULTS:
                raise
            except Exception as exc:
                failed.add(ptx.sender)
                reason = f"transaction failed in the VM: {type(exc).__name__}: {exc}"
                log.warning("dropped %s: %s", ptx.hash.hex(), reason)
                dropped.append((ptx.hash, reason))
                continue
            if isinstance(current, RunningHeader):
                current.add(receipt, evm_transaction(ptx))
            else:  # a VM without the node's speed-ups (before Byzantium; stock py-evm): its copies a transaction
                current = vm.add_receipt_to_header(current, receipt)
                current = vm.increment_blob_gas_used(current, evm_transaction(ptx))
            receipts.append(receipt)
            chosen.append(ptx)
        filled = current.header() if isinstance(current, RunningHeader) else current
        block = self._finish_block(vm, filled, [evm_transaction(p) for p in chosen], tuple(receipts))
        return block, tuple(receipts), chosen, dropped

    def _execute_block(
        self, vm_class: Any, header: BlockHeaderAPI, txs: Sequence[SignedTransactionAPI]
    ) -> tuple[BlockAPI, tuple[ReceiptAPI, ...]]:
        """Execute exactly ``txs`` on ``header`` (py-evm's ``apply_all_transactions``) into a block."""
        vm = self._vm(header, vm_class)
        vm.block_preprocessing(vm.get_block())
        new_header, receipts, _computations = vm.apply_all_transactions(txs, header)
        return self._finish_block(vm, new_header, txs, receipts), receipts

    @staticmethod
    def _finish_block(
        vm: Any,
        new_header: BlockHeaderAPI,
        txs: Sequence[SignedTransactionAPI],
        receipts: tuple[ReceiptAPI, ...],
    ) -> BlockAPI:
        withdrawals: list[WithdrawalAPI] | None = [] if hasattr(new_header, "withdrawals_root") else None
        filled = vm.set_block_transactions_and_withdrawals(
            vm.get_block(), new_header, txs, receipts, withdrawals=withdrawals
        )
        vm._built_receipts = receipts  # see _deposits_from_built_receipts
        processed = vm.block_postprocessing(filled)
        block: BlockAPI = vm.mine_block(processed).block
        return block
