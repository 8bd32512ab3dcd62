"""py-evm VM classes by fork, the chain layer's constants and caches, and the build-path speed-ups
(keccak backend, tries built in one pass, transactions and receipts stored as rows, storage tries updated in
bulk, receipts handed to Prague's deposit scan)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import rlp
from eth._utils.db import get_parent_header
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.constants import MAX_UNCLES
from eth.exceptions import BlockNotFound, HeaderNotFound, StateRootNotFound
from eth.validation import validate_length_lte
from eth.vm.forks import (
    ArrowGlacierVM,
    BerlinVM,
    ByzantiumVM,
    CancunVM,
    ConstantinopleVM,
    FrontierVM,
    GrayGlacierVM,
    HomesteadVM,
    IstanbulVM,
    LondonVM,
    MuirGlacierVM,
    ParisVM,
    PetersburgVM,
    PragueVM,
    ShanghaiVM,
    SpuriousDragonVM,
    TangerineWhistleVM,
)
from eth.vm.forks.cancun.state import get_total_blob_gas
from eth.vm.interrupt import EVMMissingData
from eth_hash.auto import keccak
from eth_utils import ValidationError
from eth_utils.logging import get_extended_debug_logger
from trie.exceptions import MissingTrieNode

from .. import block_rows, receipt_blobs
from ..errors import NodeError
from ..ordered_trie import ordered_trie_root
from .bulk_storage import BulkAccountDB

log = logging.getLogger(__name__)


def _use_fast_keccak() -> None:
    """Hash with safe-pysha3 when it is installed: same digests, about 5x faster per call than eth-hash's
    default pycryptodome backend, and keccak is a tenth of block building. ``ETH_HASH_BACKEND`` still wins."""
    if os.environ.get("ETH_HASH_BACKEND"):
        return
    try:
        from eth_hash.auto import keccak as shared
        from eth_hash.backends.pysha3 import backend
    except ImportError:
        return
    shared._backend = backend
    shared.hasher = backend.keccak256  # type: ignore[assignment]  # a bound method of the same shape


_use_fast_keccak()

VMS: dict[str, Any] = {
    "frontier": FrontierVM,
    "homestead": HomesteadVM.configure(support_dao_fork=False),
    "tangerine_whistle": TangerineWhistleVM,
    "spurious_dragon": SpuriousDragonVM,
    "byzantium": ByzantiumVM,
    "constantinople": ConstantinopleVM,
    "petersburg": PetersburgVM,
    "istanbul": IstanbulVM,
    "muir_glacier": MuirGlacierVM,
    "berlin": BerlinVM,
    "london": LondonVM,
    "arrow_glacier": ArrowGlacierVM,
    "gray_glacier": GrayGlacierVM,
    "paris": ParisVM,
    "shanghai": ShanghaiVM,
    "cancun": CancunVM,
    "prague": PragueVM,
}
BLOB_FORKS = {"cancun": 3_338_477, "prague": 5_007_716}  # blob base fee update fractions
GAS_PER_BLOB = 131_072
META_GENESIS = "genesis_hash"
META_CHAIN_ID = "chain_id"


_K = TypeVar("_K")
_V = TypeVar("_V")


class LRU(OrderedDict[_K, _V]):
    """Least-recently-put cache of at most ``size`` entries, or, with ``weight``, of entries whose weights sum
    to at most ``size`` (a block's transactions or receipts weigh their count: 256 blocks of 666 grants were
    most of the node's memory after a catch-up, 256 empty blocks next to nothing)."""

    def __init__(self, size: int, weight: Callable[[_V], int] | None = None) -> None:
        super().__init__()
        self._size = size
        self._weight = weight
        self._total = 0

    def put(self, key: _K, value: _V) -> None:
        weight = self._weight
        if weight is None:
            self[key] = value
            if len(self) > self._size:
                self.popitem(last=False)
            return
        old = self.pop(key, None)
        if old is not None:
            self._total -= weight(old)
        self[key] = value
        self._total += weight(value)
        while self._total > self._size and len(self) > 1:
            self._total -= weight(self.popitem(last=False)[1])

    def clear(self) -> None:
        super().clear()
        self._total = 0


def topic_bytes(topic: int | bytes) -> bytes:
    return topic if isinstance(topic, bytes) else topic.to_bytes(32, "big")


def _set_block_transactions_and_withdrawals(
    vm: Any,
    base_block: BlockAPI,
    new_header: BlockHeaderAPI,
    transactions: Sequence[SignedTransactionAPI],
    receipts: Sequence[ReceiptAPI],
    withdrawals: Sequence[Any] | None = None,
) -> BlockAPI:
    """py-evm's ``VM.set_block_transactions_and_withdrawals`` with the tries built in one pass, the
    transactions and the receipts (without blooms, ``receipt_blobs.py``) stored as rows (``block_rows.py``)
    instead of their tries, and the receipts kept on the VM for the deposit scan and the importer
    (``_built_receipts``)."""
    encoded_txs = [tx.encode() for tx in transactions]
    tx_root, _tx_nodes = ordered_trie_root(encoded_txs)
    encoded = [receipt_blobs.encode(r) for r in receipts]
    receipt_root, _receipt_nodes = ordered_trie_root(encoded)
    db = vm.chaindb.db
    for row_key, row in block_rows.rows(block_rows.TRANSACTIONS, tx_root, encoded_txs):
        db[row_key] = row
    for row_key, row in receipt_blobs.rows(receipt_root, encoded):
        db[row_key] = row
    vm.__dict__["_built_receipts"] = tuple(receipts)
    block_fields: dict[str, Any] = {"transactions": transactions}
    header_fields: dict[str, Any] = {"transaction_root": tx_root, "receipt_root": receipt_root}
    if withdrawals:
        withdrawals_root, withdrawal_nodes = ordered_trie_root([w.encode() for w in withdrawals])
        vm.chaindb.persist_trie_data_dict(withdrawal_nodes)
        block_fields["withdrawals"] = withdrawals
        header_fields["withdrawals_root"] = withdrawals_root
    block_fields["header"] = new_header.copy(**header_fields)
    return base_block.copy(**block_fields)


def _validate_block(vm: Any, block: BlockAPI) -> None:
    """py-evm's ``VM.validate_block`` (and Cancun's blob checks) with the transaction root computed in one pass:
    py-evm rebuilds it with a ``HexaryTrie`` insert per transaction, a tenth of building a 600-transaction
    block, on both the building and the import path. Same checks, same order, same messages."""
    if not isinstance(block, vm.get_block_class()):
        raise ValidationError(f"This vm ({vm!r}) is not equipped to validate a block of type {block!r}")
    if block.is_genesis:
        validate_length_lte(block.header.extra_data, vm.extra_data_max_bytes, title="BlockHeader.extra_data")
    else:
        vm.validate_header(block.header, get_parent_header(block.header, vm.chaindb))
    tx_root_hash, _ = ordered_trie_root([tx.encode() for tx in block.transactions])
    if tx_root_hash != block.header.transaction_root:
        raise ValidationError(
            f"Block's transaction_root ({block.header.transaction_root!r}) "
            f"does not match expected value: {tx_root_hash!r}"
        )
    if len(block.uncles) > MAX_UNCLES:
        raise ValidationError(
            f"Blocks may have a maximum of {MAX_UNCLES} uncles.  Found {len(block.uncles)}."
        )
    if (
        not vm.chaindb.exists(block.header.state_root)
        and vm.state.make_state_root() != block.header.state_root
    ):
        raise ValidationError(
            f"`state_root` does not match or was not found in the db.\n- state_root: {block.header.state_root!r}"
        )
    if keccak(rlp.encode(block.uncles)) != block.header.uncles_hash:
        raise ValidationError("`uncles_hash` and block `uncles` do not match.")
    if hasattr(vm, "validate_block_blobs"):  # Cancun on
        vm.validate_block_blobs(block)


class _ReceiptsAtHand:
    """A block whose ``get_receipts`` answers with the receipts the builder already holds."""

    def __init__(self, block: BlockAPI, receipts: Sequence[ReceiptAPI]) -> None:
        self._block = block
        self._receipts = tuple(receipts)

    def get_receipts(self, chaindb: Any) -> tuple[ReceiptAPI, ...]:
        return self._receipts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._block, name)


def _deposits_from_built_receipts(
    original: Callable[[Any, BlockAPI], None],
) -> Callable[[Any, BlockAPI], None]:
    """Prague's deposit-request scan (EIP-6110) re-reads every receipt of the block from the receipt trie;
    when the builder has them in hand (``vm._built_receipts``), hand those over instead (3% of building)."""

    def process_deposit_request_data(vm: Any, block: BlockAPI) -> None:
        receipts = vm.__dict__.get("_built_receipts")
        original(vm, block if receipts is None else _ReceiptsAtHand(block, receipts))  # type: ignore[arg-type]

    return process_deposit_request_data


def _shallow_copy(block: Any, *args: Any, **overrides: Any) -> Any:
    """``Block.copy`` without deep-copying every transaction (rlp's ``copy`` does; a block is copied four times
    on the way to being sealed). Transactions, headers and withdrawals are immutable, so sharing them is safe."""
    if args:
        return super(type(block), block).copy(*args, **overrides)
    fields = {name: getattr(block, name) for name in block._meta.field_names}
    fields.update(overrides)
    return type(block)(**fields)


class RunningHeader:
    """A block's header while its transactions are applied (Byzantium on), copied once at the end.

    py-evm rebuilds the header after every transaction, ``add_receipt_to_header`` for the gas used and the bloom,
    then Cancun's ``increment_blob_gas_used`` for the blob gas, each a full ``rlp`` copy that revalidates all
    twenty fields: ~65 us apiece, a tenth of building a grant. The per-transaction steps read only ``gas_used``
    and ``gas_limit`` of the header they are given (``validate_transaction_against_header``, ``make_receipt``),
    so they get this object instead, and any other read fails loudly (``__slots__``). ``header()`` is the one
    copy: the same header py-evm's chain of copies ends with (``test_differential_building.py``).
    """

    __slots__ = ("_blob_gas", "_blobs", "_bloom", "base", "gas_limit", "gas_used")

    def __init__(self, base: BlockHeaderAPI) -> None:
        self.base = base
        self.gas_used = base.gas_used
        self.gas_limit = base.gas_limit
        self._bloom = base.bloom
        self._blobs = hasattr(base, "blob_gas_used")  # Cancun on
        self._blob_gas = base.blob_gas_used if self._blobs else 0

    @staticmethod
    def applies_to(vm: Any) -> bool:
        """Whether ``vm`` is a ``with_fast_tries`` class from Byzantium on (before Byzantium, the header takes
        each transaction's state root)."""
        return getattr(type(vm), "apply_all_transactions", None) is _apply_all_transactions

    def add(self, receipt: ReceiptAPI, transaction: SignedTransactionAPI) -> None:
        """What ``add_receipt_to_header`` and ``increment_blob_gas_used`` do to the header."""
        self.gas_used = receipt.gas_used
        self._bloom |= receipt.bloom
        if self._blobs:
            self._blob_gas += get_total_blob_gas(transaction)

    def header(self) -> BlockHeaderAPI:
        base = self.base
        changes: dict[str, int] = {}
        if self.gas_used != base.gas_used:
            changes["gas_used"] = self.gas_used
        if self._bloom != base.bloom:
            changes["bloom"] = self._bloom
        if self._blobs and self._blob_gas != base.blob_gas_used:
            changes["blob_gas_used"] = self._blob_gas
        return base.copy(**changes) if changes else base


# Failures of the node itself while a transaction or a block runs: a block being built fails and is retried,
# its transactions stay pooled; a block being imported is not refused for them. Anything else a transaction's
# execution raises is that transaction's doing (py-evm turns some invalid transactions into exceptions other
# than ValidationError, e.g. an over-long initcode into OutOfGas before its computation starts): a builder
# drops it, so that one transaction can never stop a validator from sealing, and a block holding one is invalid.
NODE_FAULTS = (
    NodeError,
    EVMMissingData,
    MissingTrieNode,
    StateRootNotFound,
    HeaderNotFound,
    BlockNotFound,
    sqlite3.Error,
    OSError,
    MemoryError,
)


def apply_or_revert(vm: Any, header: Any, tx: SignedTransactionAPI) -> tuple[ReceiptAPI, Any]:
    """py-evm's ``VM.apply_transaction``, its changes undone if it raises.

    py-evm's own locks the state's changes as it starts, which drops every journal checkpoint taken before it,
    so a snapshot taken around it cannot be reverted ("No checkpoint ... was found", raised in place of the
    transaction's own error; py-evm's ``apply_all_transactions`` does just that on missing data). A block
    builder that did so failed its whole block on a transaction refused once its execution had begun (its nonce
    taken by an EIP-7702 authorization earlier in the block) instead of dropping it. The snapshot here is taken
    after the lock.
    """
    vm.validate_transaction_against_header(header, tx)
    vm.state.lock_changes()  # the block's earlier transactions become final, as in py-evm's VM
    snapshot = vm.state.snapshot()
    try:
        computation = vm.state.apply_transaction(tx)
        receipt: ReceiptAPI = vm.make_receipt(header, tx, computation, vm.state)
        vm.validate_receipt(receipt)
    except BaseException:
        vm.state.revert(snapshot)
        raise
    vm.state.commit(snapshot)
    return receipt, computation


def _apply_all_transactions(
    vm: Any, transactions: Sequence[SignedTransactionAPI], base_header: BlockHeaderAPI
) -> tuple[BlockHeaderAPI, tuple[ReceiptAPI, ...], tuple[Any, ...]]:
    """py-evm's ``VM.apply_all_transactions`` (the import path) with the header copied once
    (``RunningHeader``). Same checks, same order; py-evm's ``transaction_applied_hook`` is a no-op the node
    does not override."""
    if base_header.block_number != vm.get_header().block_number:
        raise ValidationError(
            f"This VM instance must only work on block #{vm.get_header().block_number}, "
            f"but the target header has block #{base_header.block_number}"
        )
    running = RunningHeader(base_header)
    receipts = []
    computations = []
    for transaction in transactions:
        receipt, computation = apply_or_revert(vm, running, transaction)
        running.add(receipt, transaction)
        receipts.append(receipt)
        computations.append(computation)
    return running.header(), tuple(receipts), tuple(computations)


# Jump destinations are a property of the code: each contract's valid and invalid positions, found once and
# shared by every execution of it (py-evm works them out again for each message). Sets only grow, under the
# GIL, from any thread; the table is cleared when it holds more codes than a node runs.
_JUMP_POSITIONS: dict[bytes, tuple[set[int], set[int]]] = {}
_JUMP_POSITIONS_MAX = 1024


def _shared_positions(code: bytes) -> tuple[set[int], set[int]]:
    found = _JUMP_POSITIONS.get(code)
    if found is None:
        if len(_JUMP_POSITIONS) >= _JUMP_POSITIONS_MAX:
            _JUMP_POSITIONS.clear()
        found = _JUMP_POSITIONS.setdefault(code, (set(), set()))
    return found


def fast_computation(computation_class: Any) -> Any:
    """``computation_class`` without two repeated pieces of work: jump destinations analysed once a code,
    not once a message (``_shared_positions``), and memory accesses within memory already paid for answered
    at once (py-evm computes the size and gas of memory before and after on every MLOAD, MSTORE, CALLDATACOPY
    and RETURN: a no-op when nothing grows, which the fast path returns). Same results as stock py-evm:
    tests/node/test_fast_computation.py (generated code) and test_differential_building.py (blocks)."""
    init, extend = computation_class.__init__, computation_class.extend_memory

    def __init__(self: Any, state: Any, message: Any, transaction_context: Any) -> None:
        init(self, state, message, transaction_context)
        self.code.invalid_positions, self.code.valid_positions = _shared_positions(message.code)

    def extend_memory(self: Any, start_position: int, size: int) -> None:
        if size == 0 or start_position + size <= len(self._memory):
            return  # no growth: no gas, and py-evm's Memory.extend would return too
        extend(self, start_position, size)

    return computation_class.configure(
        __name__=computation_class.__name__, __init__=__init__, extend_memory=extend_memory
    )


def with_fast_tries(vm_class: Any) -> Any:
    """``vm_class`` with the one-pass transaction/receipt tries (building and validation), storage tries
    updated in bulk, the header copied once a block instead of twice a transaction (``RunningHeader``), blocks
    copied without deep copies and, from Prague on, the deposit scan over receipts in hand."""
    state_class = vm_class.get_state_class()
    overrides: dict[str, Any] = {
        "set_block_transactions_and_withdrawals": _set_block_transactions_and_withdrawals,
        "validate_block": _validate_block,
        "_state_class": state_class.configure(
            __name__=state_class.__name__,
            account_db_class=BulkAccountDB,
            # py-evm's ``BaseState.logger`` is a property that looks the logger up (swapping logging's logger
            # class in and out) on every use, three times a transaction: 2% of building. Same logger, looked
            # up once.
            logger=get_extended_debug_logger(f"eth.vm.state.{state_class.__name__}"),
            computation_class=fast_computation(state_class.computation_class),
        ),
    }
    if issubclass(vm_class, ByzantiumVM):
        overrides["apply_all_transactions"] = _apply_all_transactions
        # py-evm checks every receipt it has just made from a computation's logs against itself (each log's
        # address and topics in the bloom made from them, the status one of two it set): 3% of building, and
        # nothing from outside is checked, since an imported block's receipts are made here too and only
        # their root is compared with the header's.
        overrides["validate_receipt"] = classmethod(lambda cls, receipt: None)
    block_class = vm_class.get_block_class()
    overrides["block_class"] = type(block_class.__name__, (block_class,), {"copy": _shallow_copy})
    if hasattr(vm_class, "process_deposit_request_data"):  # Prague on
        overrides["process_deposit_request_data"] = _deposits_from_built_receipts(
            vm_class.process_deposit_request_data
        )
    return vm_class.configure(**overrides)
