"""The chain layer: the only place that handles py-evm objects (VMs, headers, transactions, receipts).

It configures py-evm VM classes from the genesis' fork schedule (Clique-configured for a pamchain genesis,
``NoProofConsensus`` for chains imported from elsewhere), executes and seals blocks, imports blocks, answers
state and history queries, and converts everything it returns into the frozen records of ``records.py``.

All methods are synchronous and NOT thread-safe: the node calls them from a single chain thread, which is
also what guarantees that a reader never sees a half-built block (see ``service.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import rlp
from eth._utils.calculations import fake_exponential
from eth.abc import BlockAPI, BlockHeaderAPI, ComputationAPI, ReceiptAPI, SignedTransactionAPI
from eth.chains.base import ChainContext
from eth.consensus.context import ConsensusContext
from eth.consensus.noproof import NoProofConsensus
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA256, EMPTY_UNCLE_HASH, GENESIS_PARENT_HASH, ZERO_HASH32
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.exceptions import HeaderNotFound, OutOfGas, TransactionNotFound
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
from eth.vm.spoof import SpoofTransaction
from eth_keys import keys
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from . import consensus, finality, tracing
from .calls import CallBudget, budget_scope, deadline_vm_class
from .errors import (
    AccountNotAllowed,
    ConflictsWithFinality,
    ExecutionFailed,
    ExecutionReverted,
    GenesisError,
    InvalidBlock,
    NotFound,
    StorageError,
    TransactionRejected,
)
from .genesis import PERMISSION_SELECTOR, Genesis, contract_address
from .ordered_trie import ordered_trie_root
from .records import (
    AccessListEntry,
    Authorization,
    BlockRecord,
    CallRequest,
    HeaderRecord,
    LogRecord,
    PoolTx,
    ReceiptRecord,
    TxRecord,
)
from .storage import NodeDB, OverlayDB, SqliteStore, StoreReader, address_key, topic_key

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

_VMS: dict[str, Any] = {
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
_LONDON_AND_LATER = ("london", "arrow_glacier", "gray_glacier", "paris", "shanghai", "cancun", "prague")
_BLOB_FORKS = {"cancun": 3_338_477, "prague": 5_007_716}  # blob base fee update fractions
GAS_PER_BLOB = 131_072
META_GENESIS = "genesis_hash"
META_CHAIN_ID = "chain_id"
_T = TypeVar("_T")


class _LRU(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        if len(self) > self._size:
            self.popitem(last=False)


@dataclass(frozen=True)
class BuildResult:
    number: int
    hash: bytes
    timestamp: int
    included: tuple[bytes, ...]
    dropped: tuple[tuple[bytes, str], ...]


def _topic_bytes(topic: int | bytes) -> bytes:
    return topic if isinstance(topic, bytes) else topic.to_bytes(32, "big")


class _Calls:
    """Calls on a header's state (``eth_call``, ``eth_estimateGas``, ``eth_createAccessList``), shared by
    ``Chain`` (its own calls, e.g. permission checks, on the chain thread) and ``CallReader`` (user calls, on
    other threads). Subclasses provide the genesis, the VM classes and ``_vm``."""

    genesis: Genesis
    _timed_classes: dict[Any, Any]

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        raise NotImplementedError

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        raise NotImplementedError

    def _spoof(self, request: CallRequest, header: BlockHeaderAPI, state: Any, gas: int) -> Any:
        vm_class = self.vm_class_for(header.block_number, header.timestamp)
        builder = vm_class.get_transaction_builder()
        sender = Address(request.sender or b"\0" * 20)
        # Like geth (SkipNonceChecks): a call never checks the nonce it names; clients such as ethers.js send
        # one from their own (possibly stale) cache with eth_estimateGas.
        nonce = state.get_nonce(sender)
        to = Address(request.to) if request.to is not None else b""
        london = hasattr(header, "base_fee_per_gas")
        access_list = tuple((e.address, e.storage_keys) for e in request.access_list)
        if request.blob_versioned_hashes and hasattr(builder, "new_unsigned_blob_transaction"):
            unsigned = builder.new_unsigned_blob_transaction(
                chain_id=self.genesis.chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=request.max_priority_fee or 0,
                max_fee_per_gas=request.max_fee or 0,
                gas=gas,
                to=to,
                value=request.value,
                data=request.data,
                access_list=access_list,
                max_fee_per_blob_gas=request.max_fee_per_blob_gas or 0,
                blob_versioned_hashes=request.blob_versioned_hashes,
            )
        elif london and (request.max_fee is not None or request.max_priority_fee is not None):
            max_fee = (
                request.max_fee
                if request.max_fee is not None
                else (header.base_fee_per_gas * 2 + (request.max_priority_fee or 0))
            )
            unsigned = builder.new_unsigned_dynamic_fee_transaction(
                chain_id=self.genesis.chain_id,
                nonce=nonce,
                max_priority_fee_per_gas=request.max_priority_fee or 0,
                max_fee_per_gas=max_fee,
                gas=gas,
                to=to,
                value=request.value,
                data=request.data,
                access_list=access_list,
            )
        elif access_list and hasattr(builder, "new_unsigned_access_list_transaction"):
            unsigned = builder.new_unsigned_access_list_transaction(
                chain_id=self.genesis.chain_id,
                nonce=nonce,
                gas_price=request.gas_price or 0,
                gas=gas,
                to=to,
                value=request.value,
                data=request.data,
                access_list=access_list,
            )
        else:
            unsigned = builder.create_unsigned_transaction(
                nonce=nonce,
                gas_price=request.gas_price or 0,
                gas=gas,
                to=to,
                value=request.value,
                data=request.data,
            )
        return SpoofTransaction(unsigned, from_=sender)

    def _call_state(
        self,
        request: CallRequest,
        header: BlockHeaderAPI,
        vm_class: Any = None,
        budget: CallBudget | None = None,
    ) -> Any:
        if budget is not None:
            vm_class = self._timed(vm_class or self.vm_class_for(header.block_number, header.timestamp))
        # Like geth: a call that names no fee runs with gas price 0 and a zero base fee, so that accounts
        # without ether can call views; a call that names fees is checked against the real base fee.
        no_fee = (
            request.gas_price in (None, 0) and request.max_fee in (None, 0) and not request.max_priority_fee
        )
        if no_fee and getattr(header, "base_fee_per_gas", None):
            header = header.copy(base_fee_per_gas=0)
        return self._vm(header, vm_class).state

    def _timed(self, vm_class: Any) -> Any:
        timed = self._timed_classes.get(vm_class)
        if timed is None:
            timed = self._timed_classes[vm_class] = deadline_vm_class(vm_class)
        return timed

    def call(self, request: CallRequest, header: BlockHeaderAPI, budget: CallBudget | None = None) -> bytes:
        """Execute ``request`` on top of ``header``'s state; return output or raise ExecutionReverted/Failed
        (or ExecutionTimeout past the budget's deadline; the budget also caps the gas)."""
        gas = request.gas or header.gas_limit
        with budget_scope(budget):
            computation = self._execute(request, header, budget.gas(gas) if budget else gas, budget)
        return computation.output

    def _execute(
        self, request: CallRequest, header: BlockHeaderAPI, gas: int, budget: CallBudget | None = None
    ) -> ComputationAPI:
        state = self._call_state(request, header, budget=budget)
        tx = self._spoof(request, header, state, gas)
        try:
            computation = state.apply_transaction(tx)
        except ValidationError as exc:
            raise ExecutionFailed(_geth_reason(str(exc))) from exc
        _raise_for_computation(computation)
        return computation

    def estimate_gas(
        self, request: CallRequest, header: BlockHeaderAPI, budget: CallBudget | None = None
    ) -> int:
        """geth's strategy: run at the cap (revert -> error), try the gas used, then binary-search."""
        cap = request.gas or header.gas_limit
        if budget is not None:
            cap = budget.gas(cap)  # geth: "caller gas above allowance, capping"
        with budget_scope(budget):
            return self._estimate(request, header, cap, budget)

    def _estimate(
        self, request: CallRequest, header: BlockHeaderAPI, cap: int, budget: CallBudget | None
    ) -> int:
        state = self._call_state(request, header, budget=budget)

        def attempt(gas: int) -> ComputationAPI | None:
            snapshot = state.snapshot()
            try:
                computation = state.apply_transaction(self._spoof(request, header, state, gas))
            except ValidationError as exc:
                if "intrinsic" in str(exc).lower() or "gas" in str(exc).lower():
                    return None
                raise ExecutionFailed(_geth_reason(str(exc))) from exc
            finally:
                state.revert(snapshot)
            return computation

        top = attempt(cap)
        if top is None:
            raise ExecutionFailed(f"gas required exceeds allowance ({cap})")
        if top.is_error:
            if isinstance(top.error, OutOfGas):  # geth: out of gas at the cap is "exceeds allowance"
                raise ExecutionFailed(f"gas required exceeds allowance ({cap})")
            _raise_for_computation(top)
        # Execution gas plus intrinsic gas, before refunds: an upper bound of what the receipt would show
        # and usually enough on its own (geth tries this first too).
        used = min(cap, self._spoof(request, header, state, cap).intrinsic_gas + top.get_gas_used())
        first = attempt(used)
        if first is not None and not first.is_error:
            return used
        lo, hi = used, cap
        while hi - lo > 1 and (hi - lo) * 1000 > hi * 15:  # geth stops within 1.5 %
            mid = (lo + hi) // 2
            result = attempt(mid)
            if result is None or result.is_error:
                lo = mid
            else:
                hi = mid
        return hi

    def create_access_list(
        self, request: CallRequest, header: BlockHeaderAPI, budget: CallBudget | None = None
    ) -> tuple[tuple[AccessListEntry, ...], int, str | None]:
        """geth's ``eth_createAccessList``: run the call with an opcode tracer until the list stops changing.

        Returns (access list, gas used with that list after refunds, execution error or None). Like geth, the
        sender, the recipient and precompiles are listed only for storage slots they touch; the nonce is not
        checked (the account's own is used).
        """
        with budget_scope(budget):
            return self._access_list(request, header, budget)

    def _access_list(
        self, request: CallRequest, header: BlockHeaderAPI, budget: CallBudget | None
    ) -> tuple[tuple[AccessListEntry, ...], int, str | None]:
        vm_class = self.vm_class_for(header.block_number, header.timestamp)
        sender = request.sender or b"\0" * 20
        exclude = {sender, *vm_class.get_state_class().computation_class.get_precompiles()}
        if request.to is not None:
            exclude.add(request.to)
        current = request.access_list
        for _ in range(16):  # geth loops to a fixed point; a list only grows, so a few rounds suffice
            tracer = _AccessTracer(exclude, current)
            attempt = dataclasses.replace(request, access_list=current)
            state = self._call_state(attempt, header, tracer.vm_class(vm_class), budget)
            gas = request.gas if request.gas is not None else header.gas_limit
            gas = budget.gas(gas) if budget is not None else gas
            tx = self._spoof(attempt, header, state, gas)
            try:
                computation = state.apply_transaction(tx)
            except ValidationError as exc:
                raise ExecutionFailed(_geth_reason(str(exc))) from exc
            found = tracer.access_list()
            if found == _AccessTracer(exclude, current).access_list():
                used = tx.intrinsic_gas + computation.get_gas_used()
                used -= min(computation.get_gas_refund(), used // _refund_quotient(header))
                error = None
                if computation.is_error:
                    try:
                        _raise_for_computation(computation)
                    except (ExecutionReverted, ExecutionFailed) as exc:
                        error = str(exc)
                return found, used, error
            current = found
        raise ExecutionFailed("access list did not converge")

    def trace(
        self,
        header: BlockHeaderAPI,
        parent: BlockHeaderAPI,
        txs: Sequence[SignedTransactionAPI],
        make: Callable[[], tracing.Tracer],
        only: int | None = None,
        budget: CallBudget | None = None,
    ) -> list[Any]:
        """``debug_trace*``: replay ``header``'s block on ``parent``'s state with tracers (see tracing.py),
        within the budget's deadline."""
        with budget_scope(budget):
            return tracing.replay(self, header, parent, txs, make, only)


class Chain(_Calls):
    """One chain on one store. Create with ``Chain.open(genesis, store)``."""

    def __init__(self, genesis: Genesis, store: SqliteStore, *, seal_check: bool = True) -> None:
        self.genesis = genesis
        self.store = store
        self.db = NodeDB(store)
        self.chaindb = ChainDB(self.db)
        self.chain_context = ChainContext(genesis.chain_id)
        self.clique = genesis.clique is not None
        self.seal_check = seal_check
        if self.clique and seal_check:
            assert genesis.clique is not None
            self.context_class: Any = consensus.context_class(genesis.clique.epoch)
        else:
            self.context_class = ConsensusContext
        self.consensus_context: Any = self.context_class(self.db)
        self._timed_classes = {}
        self._vm_classes = {name: self._fast_tries(self._configure_vm(name, vm)) for name, vm in _VMS.items()}
        self._headers: _LRU = _LRU(4096)
        self._blocks: _LRU = _LRU(256)
        self._receipts: _LRU = _LRU(256)
        self._receipt_records: _LRU = _LRU(64)  # a client polling receipts reads the same block repeatedly
        self._senders: _LRU = _LRU(65_536)
        self._allowed: _LRU = _LRU(4096)
        self._states: _LRU = _LRU(4)
        self._open()

    # ------------------------------------------------------------------------------------------------ setup
    def _configure_vm(self, fork: str, vm: Any) -> Any:
        if self.clique:
            configured = consensus.configure_clique_vm(fork, vm)
            if not self.seal_check:
                configured = configured.configure(consensus_class=NoProofConsensus)
            return configured
        return vm.configure(__name__=f"Imported{vm.__name__}", consensus_class=NoProofConsensus)

    def _fast_tries(self, vm_class: Any) -> Any:
        overrides: dict[str, Any] = {
            "set_block_transactions_and_withdrawals": _set_block_transactions_and_withdrawals
        }
        if hasattr(vm_class, "process_deposit_request_data"):  # Prague on
            overrides["process_deposit_request_data"] = _deposits_from_built_receipts(
                vm_class.process_deposit_request_data
            )
        return vm_class.configure(**overrides)

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        return self._vm_classes[self.genesis.schedule.fork_at(number, timestamp)]

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        cls = vm_class or self.vm_class_for(header.block_number, header.timestamp)
        return cls(
            header=header,
            chaindb=self.chaindb,
            chain_context=self.chain_context,
            consensus_context=self.consensus_context,
        )

    def _open(self) -> None:
        stored = self.store.get_meta(META_GENESIS)
        genesis_header = self._genesis_header()
        if stored is None:
            block = self.vm_class_for(0, self.genesis.timestamp).get_block_class()(
                genesis_header, transactions=[], uncles=[], **self._empty_withdrawals(genesis_header)
            )
            self.chaindb.persist_block(block)
            self.db.commit(
                meta=[
                    (META_GENESIS, genesis_header.hash),
                    (META_CHAIN_ID, str(self.genesis.chain_id).encode()),
                ]
            )
        elif stored != genesis_header.hash:
            self.db.discard()
            raise StorageError(
                f"datadir holds a chain with genesis 0x{stored.hex()}, not 0x{genesis_header.hash.hex()}"
            )
        else:
            self.db.discard()  # the genesis state we just recomputed is already on disk
        self.head = self.chaindb.get_canonical_head()
        self.genesis_hash = genesis_header.hash
        self.finalized = genesis_header
        self._advance_finality()

    @staticmethod
    def _empty_withdrawals(header: BlockHeaderAPI) -> dict[str, Any]:
        return {"withdrawals": []} if hasattr(header, "withdrawals_root") else {}

    def _genesis_header(self) -> BlockHeaderAPI:
        g = self.genesis
        account_db = AccountDB(self.db)
        for address, acct in g.alloc.items():
            addr = Address(address)
            account_db.set_balance(addr, acct.balance)
            if acct.nonce:
                account_db.set_nonce(addr, acct.nonce)
            if acct.code:
                account_db.set_code(addr, acct.code)
            for slot, value in acct.storage.items():
                account_db.set_storage(addr, slot, value)
        account_db.persist()
        fork = g.schedule.fork_at(0, g.timestamp)
        vm_class = self._vm_classes[fork]
        header_class = dict(vm_class.get_block_class()._meta.fields)["header"]
        fields: dict[str, Any] = {
            "parent_hash": GENESIS_PARENT_HASH,
            "uncles_hash": EMPTY_UNCLE_HASH,
            "coinbase": g.coinbase,
            "state_root": account_db.state_root,
            "transaction_root": BLANK_ROOT_HASH,
            "receipt_root": BLANK_ROOT_HASH,
            "bloom": 0,
            "difficulty": g.difficulty,
            "block_number": 0,
            "gas_limit": g.gas_limit,
            "gas_used": 0,
            "timestamp": g.timestamp,
            "extra_data": g.extra_data,
            "mix_hash": g.mix_hash,
            "nonce": g.nonce,
        }
        names = header_class._meta.field_names
        if "base_fee_per_gas" in names:
            fields["base_fee_per_gas"] = g.base_fee if g.base_fee is not None else 1_000_000_000
        if "withdrawals_root" in names:
            fields["withdrawals_root"] = BLANK_ROOT_HASH
        if "blob_gas_used" in names:
            fields["blob_gas_used"] = g.blob_gas_used or 0
            fields["excess_blob_gas"] = g.excess_blob_gas or 0
            fields["parent_beacon_block_root"] = ZERO_HASH32
        if "requests_hash" in names:
            fields["requests_hash"] = EMPTY_SHA256
        try:
            return header_class(**fields)
        except (TypeError, ValidationError, rlp.exceptions.ObjectSerializationError) as exc:
            raise GenesisError(f"cannot build genesis header: {exc}") from exc

    # ---------------------------------------------------------------------------------------------- headers
    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI:
        header = self._headers.get(block_hash)
        if header is None:
            try:
                header = self.chaindb.get_block_header_by_hash(Hash32(block_hash))
            except HeaderNotFound as exc:
                raise NotFound(f"block 0x{block_hash.hex()} not found") from exc
            self._headers.put(block_hash, header)
        return header

    def header_by_number(self, number: int) -> BlockHeaderAPI:
        if number > self.head.block_number or number < 0:
            raise NotFound(f"block {number} not found")
        if number == self.head.block_number:
            return self.head
        try:
            block_hash = self.chaindb.get_canonical_block_hash(number)
        except HeaderNotFound as exc:
            raise NotFound(f"block {number} not found") from exc
        return self.header_by_hash(block_hash)

    def is_canonical(self, header: BlockHeaderAPI) -> bool:
        try:
            return self.chaindb.get_canonical_block_hash(header.block_number) == header.hash
        except HeaderNotFound:
            return False

    def _evm_block(self, header: BlockHeaderAPI) -> BlockAPI:
        block = self._blocks.get(header.hash)
        if block is None:
            block = (
                self.vm_class_for(header.block_number, header.timestamp)
                .get_block_class()
                .from_header(header, self.chaindb)
            )
            self._blocks.put(header.hash, block)
        return block

    # ------------------------------------------------------------------------------------------- signers
    def signers(self, header: BlockHeaderAPI | None = None) -> tuple[bytes, ...]:
        """Authorized Clique signers after ``header`` (default: head)."""
        if not self.clique:
            return ()
        header = header or self.head
        if not self.seal_check:
            return tuple(self.genesis.signers)
        snapshot = self.consensus_context.snapshot_manager.get_or_create_snapshot(
            header.block_number, header.hash
        )
        return tuple(snapshot.get_sorted_signers())

    # --------------------------------------------------------------------------------------- state reads
    def _state(self, header: BlockHeaderAPI) -> Any:
        # Read-only state objects are reused per block: building one costs a VM, and its account cache
        # makes repeated nonce/balance lookups (txpool admission, RPC) nearly free. Never mutated.
        state = self._states.get(header.hash)
        if state is None:
            state = self._vm(header).state
            self._states.put(header.hash, state)
        return state

    def balance(self, address: bytes, header: BlockHeaderAPI) -> int:
        return self._state(header).get_balance(Address(address))

    def nonce(self, address: bytes, header: BlockHeaderAPI) -> int:
        return self._state(header).get_nonce(Address(address))

    def code(self, address: bytes, header: BlockHeaderAPI) -> bytes:
        return self._state(header).get_code(Address(address))

    def storage_at(self, address: bytes, slot: int, header: BlockHeaderAPI) -> int:
        return self._state(header).get_storage(Address(address), slot)

    def account_proof(self, address: bytes, slots: Sequence[int], header: BlockHeaderAPI) -> dict[str, Any]:
        """EIP-1186 proof: account fields plus the trie nodes from the state root to the account/slots."""
        from eth_hash.auto import keccak
        from trie import HexaryTrie  # local: only eth_getProof needs it

        state_trie = HexaryTrie(self.db, root_hash=header.state_root)
        account_key = keccak(address)
        account_proof = state_trie.get_proof(account_key)
        state = self._state(header)
        addr = Address(address)
        storage_root = state._account_db._get_storage_root(addr) if hasattr(state, "_account_db") else None
        if storage_root is None:
            storage_root = BLANK_ROOT_HASH
        storage_trie = HexaryTrie(self.db, root_hash=storage_root)
        storage = []
        for slot in slots:
            key = keccak(slot.to_bytes(32, "big"))
            proof = storage_trie.get_proof(key)
            storage.append(
                {"key": slot, "value": state.get_storage(addr, slot), "proof": [rlp.encode(n) for n in proof]}
            )
        return {
            "address": address,
            "balance": state.get_balance(addr),
            "nonce": state.get_nonce(addr),
            "codeHash": state.get_code_hash(addr),
            "storageHash": storage_root,
            "accountProof": [rlp.encode(n) for n in account_proof],
            "storageProof": storage,
        }

    # --------------------------------------------------------------------------------------- permissions
    def is_allowed(self, sender: bytes, parent: BlockHeaderAPI) -> bool:
        """Account permissioning judged against ``parent``'s state (the block the tx would be built on)."""
        perms = self.genesis.permissions
        if not perms.enabled or sender in perms.allowlist:
            return True
        if perms.contract is None:
            return False
        key = (parent.hash, sender)
        cached = self._allowed.get(key)
        if cached is not None:
            return bool(cached)
        data = PERMISSION_SELECTOR + sender.rjust(32, b"\0")
        try:
            out = self.call(CallRequest(to=perms.contract, data=data, gas=1_000_000), parent)
            allowed = len(out) >= 32 and int.from_bytes(out[:32], "big") == 1
        except (ExecutionReverted, ExecutionFailed):
            allowed = False  # a missing or broken permission contract allows nobody beyond the allowlist
        self._allowed.put(key, allowed)
        return allowed

    # ------------------------------------------------------------------------------------- transactions
    def decode_transaction(self, raw: bytes) -> PoolTx:
        """Decode and statically validate a raw transaction for the txpool (no state involved)."""
        number, timestamp = self.head.block_number + 1, max(int(time.time()), self.head.timestamp + 1)
        vm_class = self.vm_class_for(number, timestamp)
        builder = vm_class.get_transaction_builder()
        try:
            if raw and raw[0] == 3:
                raw = _strip_blob_sidecar(raw)
            tx = builder.decode(raw)
        except Exception as exc:
            raise TransactionRejected(f"invalid transaction: {_short(exc)}") from exc
        try:
            sender = _checked_sender(tx)
        except Exception as exc:
            raise TransactionRejected("invalid transaction: invalid sender signature") from exc
        if tx.s > _SECP256K1_HALF_N and self.genesis.schedule.fork_at(number, timestamp) != "frontier":
            # EIP-2 (Homestead on): the VM refuses high-s signatures, so the pool must too; admitting one made
            # the next block fail and fall back to probing transactions one by one.
            raise TransactionRejected("invalid transaction v, r, s values")
        chain_id = getattr(tx, "chain_id", None)
        if chain_id is not None and chain_id != self.genesis.chain_id:
            raise TransactionRejected(f"invalid chain id: have {chain_id} want {self.genesis.chain_id}")
        if chain_id is None and getattr(tx, "type_id", None) is None and tx.v in (27, 28):
            # pre-EIP-155 transactions replay across networks; geth refuses them over RPC by default too.
            raise TransactionRejected("only replay-protected (EIP-155) transactions allowed over RPC")
        try:
            tx.validate()
        except Exception as exc:
            raise TransactionRejected(_geth_reason(str(exc))) from exc
        intrinsic = tx.intrinsic_gas
        if tx.gas < intrinsic:
            raise TransactionRejected(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic}")
        type_id = getattr(tx, "type_id", None) or 0
        fee_cap = getattr(tx, "max_fee_per_gas", None) if type_id >= 2 else tx.gas_price
        tip_cap = getattr(tx, "max_priority_fee_per_gas", None) if type_id >= 2 else tx.gas_price
        cost = tx.value + tx.gas * fee_cap
        if type_id == 3:
            cost += len(tx.blob_versioned_hashes) * GAS_PER_BLOB * tx.max_fee_per_blob_gas
        self._senders.put(tx.hash, sender)
        return PoolTx(
            hash=tx.hash,
            sender=sender,
            nonce=tx.nonce,
            gas=tx.gas,
            fee_cap=fee_cap,
            tip_cap=tip_cap,
            cost=cost,
            size=len(raw),
            raw=raw,
            type=type_id,
            evm=tx,
        )

    def _sender(self, tx: SignedTransactionAPI) -> bytes:
        sender = self._senders.get(tx.hash)
        if sender is None:
            sender = tx.sender
            self._senders.put(tx.hash, sender)
        return sender

    def pending_header(self) -> BlockHeaderAPI:
        """The header of the block that would be built on the head now: geth's ``pending`` for calls.

        Calls and gas estimates against ``pending`` see the timestamp the next block will have, so a
        transaction that is valid only from a time on (a grant's removal receipt at its expiry) can be
        estimated on an idle chain that seals on demand and has no later block yet.
        """
        parent = self.head
        ts = max(int(time.time()), parent.timestamp + 1)
        vm_class = self.vm_class_for(parent.block_number + 1, ts)
        return vm_class.create_header_from_parent(parent, timestamp=ts, gas_limit=parent.gas_limit)

    def base_fee_next(self) -> int | None:
        """Base fee of the block that would be built on the head now."""
        vm_class = self.vm_class_for(self.head.block_number + 1, self.head.timestamp + 1)
        header = vm_class.create_header_from_parent(self.head, timestamp=self.head.timestamp + 1)
        return getattr(header, "base_fee_per_gas", None)

    # ------------------------------------------------------------------------------------------ building
    def build_block(
        self,
        txs: Sequence[PoolTx],
        signer: Address,
        key: keys.PrivateKey,
        timestamp: int | None = None,
        vote: consensus.Vote | None = None,
    ) -> BuildResult:
        """Execute ``txs`` (already in nonce order per sender) on the head, seal, validate and commit.

        Transactions that cannot go in (sender not allowed at the parent state, fee below base fee,
        nonce/balance no longer fitting) are reported in ``dropped`` rather than failing the block.
        """
        parent = self.head
        ts = max(int(time.time()) if timestamp is None else timestamp, parent.timestamp + 1)
        base_class = self.vm_class_for(parent.block_number + 1, ts)
        vm_class = consensus.sealing_vm_class(base_class, signer)
        header = vm_class.create_header_from_parent(parent, timestamp=ts, gas_limit=parent.gas_limit)
        assert self.genesis.clique is not None
        header = consensus.prepare_header(
            header, self.signers(parent), signer, self.genesis.clique.epoch, vote=vote
        )
        base_fee = getattr(header, "base_fee_per_gas", None)

        chosen: list[PoolTx] = []
        dropped: list[tuple[bytes, str]] = []
        gas_left = header.gas_limit
        blocked_senders: set[bytes] = set()
        for ptx in txs:
            if ptx.sender in blocked_senders:
                dropped.append((ptx.hash, "earlier transaction of the sender was dropped"))
                continue
            if not self.is_allowed(ptx.sender, parent):
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
        withdrawals = [] if hasattr(header, "withdrawals_root") else None
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
                bad.append((ptx, _geth_reason(str(exc))))
        self.db.discard()
        return good, bad

    def _validate_header_chain(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        vm = self._vm(header)
        vm.validate_header(header, parent)
        vm.validate_seal(header)
        vm.validate_seal_extension(header, ())

    def _commit(self, block: BlockAPI, receipts: Sequence[ReceiptAPI]) -> None:
        number = block.number
        rows: set[tuple[bytes, int]] = set()
        for receipt in receipts:
            for entry in receipt.logs:
                rows.add((address_key(entry.address), number))
                for pos, topic in enumerate(entry.topics):
                    rows.add((topic_key(pos, _topic_bytes(topic)), number))
        self.db.commit(log_rows=rows)
        self.head = self.chaindb.get_canonical_head()
        self._advance_finality()
        self._headers.put(block.hash, block.header)
        self._blocks.put(block.hash, block)
        self._receipts.put(block.hash, tuple(receipts))  # pollers ask for them at once; skip the trie read

    # ------------------------------------------------------------------------- fork choice and finality
    def total_difficulty(self, header: BlockHeaderAPI) -> int:
        return int(self.chaindb.get_score(header.hash))

    def _signer_count(self, header: BlockHeaderAPI) -> int:
        return max(1, len(self.signers(header)))

    def _advance_finality(self) -> None:
        """Move ``finalized`` forward along the head's branch (see finality.py); never backwards."""
        if not (self.clique and self.seal_check):
            self.finalized = self.head  # no seals to count: imported/foreign chains treat the head as final
            return
        floor = self.finalized
        if not self.is_canonical(floor):  # cannot happen once imports are guarded; stay safe on odd datadirs
            floor = self.header_by_number(0)
        self.finalized = finality.majority_final(
            self.head, lambda h: self.header_by_hash(h.parent_hash), self._signer_count(self.head), floor
        )

    def _descends_from_finalized(self, parent: BlockHeaderAPI) -> bool:
        final = self.finalized
        if parent.block_number < final.block_number:
            return False
        current = parent
        while not self.is_canonical(current):
            current = self.header_by_hash(current.parent_hash)
        return current.block_number >= final.block_number

    def _prefer_over_head(self, header: BlockHeaderAPI) -> bool:
        """EIP-3436: does ``header`` beat the current head? (py-evm already switched if its score is higher.)"""
        if not (self.clique and self.seal_check):
            return False
        head = self.head

        def key(h: BlockHeaderAPI) -> tuple[int, int, int, int]:
            parent = self.header_by_hash(h.parent_hash)
            return consensus.fork_choice_key(h, self.total_difficulty(h), self.signers(parent))

        return key(header) > key(head)

    def _canonicalize(self, header: BlockHeaderAPI) -> tuple[Hash32, ...]:
        """Make ``header`` the head (an EIP-3436 tie-break py-evm's score rule would not take)."""
        with self.chaindb.db.atomic_batch() as db:
            new, _old = ChainDB._set_as_canonical_chain_head(db, header, GENESIS_PARENT_HASH)
            for h in new:
                for i, tx_hash in enumerate(ChainDB._get_block_transaction_hashes(db, h)):
                    ChainDB._add_transaction_to_canonical_chain(db, tx_hash, h, i)
        return tuple(h.hash for h in new)

    def replay_inputs(
        self, header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[SignedTransactionAPI, ...]]:
        """What re-executing a block takes (``debug_trace*``): its parent's header and its transactions."""
        if header.block_number == 0:
            raise NotFound("genesis is not traceable")
        return self.header_by_hash(header.parent_hash), tuple(self._evm_block(header).transactions)

    def raw_block(self, block_hash: bytes) -> bytes:
        """RLP of any stored block, canonical or not (peers ask for branches by hash)."""
        return rlp.encode(self._evm_block(self.header_by_hash(block_hash)))

    def raw_transactions(self, block_hash: bytes) -> list[bytes]:
        """Raw (network-less) transactions of any stored block, canonical or not."""
        block = self._evm_block(self.header_by_hash(block_hash))
        return [tx.encode() if hasattr(tx, "encode") else rlp.encode(tx) for tx in block.transactions]

    def has_block(self, block_hash: bytes) -> bool:
        return bool(self.chaindb.header_exists(Hash32(block_hash)))

    def can_seal(self, signer: bytes) -> bool:
        """May ``signer`` seal the next block on the head (authorized, not within the recently-signed limit)?"""
        signers = self.signers(self.head)
        if signer not in signers:
            return False
        recent = consensus.recent_signers(self.header_by_hash, Hash32(self.head.hash), len(signers))
        return signer not in recent

    # ----------------------------------------------------------------------------------------- importing
    def import_block(self, block: BlockAPI) -> bool:
        """Execute and validate a block from elsewhere; commit it. Returns True if it became the head."""
        try:
            return self._import_block(block)
        except BaseException:
            self.db.discard()
            raise

    def _import_block(self, block: BlockAPI) -> bool:
        header = block.header
        number = header.block_number
        if self.chaindb.header_exists(header.hash):
            return False
        try:
            parent = self.header_by_hash(header.parent_hash)
        except NotFound as exc:
            raise InvalidBlock("unknown parent", number) from exc
        if not self._descends_from_finalized(parent):
            raise ConflictsWithFinality(f"conflicts with finalized block #{self.finalized.block_number}", number)
        # Every check that needs no execution comes first: header fields against the parent (gas limit within
        # its bounds, timestamp, number), the Clique seal, the signer's right to seal at the parent's snapshot and
        # the recently-signed rule. A block from a peer that is not a signer is never executed.
        try:
            self._validate_header_chain(header, parent)
        except ValidationError as exc:
            raise InvalidBlock(str(exc), number) from exc
        if sum(int(tx.gas) for tx in block.transactions) > header.gas_limit:
            raise InvalidBlock("transactions ask for more gas than the block's limit", number)
        vm_class = self.vm_class_for(number, header.timestamp)
        for tx in block.transactions:
            try:
                sender = self._sender(tx)
            except Exception as exc:
                raise InvalidBlock(f"invalid transaction signature: {_short(exc)}", number) from exc
            if not self.is_allowed(sender, parent):
                raise InvalidBlock(str(AccountNotAllowed(sender, tx.hash)), number)
        base = vm_class.create_header_from_parent(
            parent, timestamp=header.timestamp, gas_limit=header.gas_limit
        )
        vm = self._vm(base.copy(gas_used=header.gas_used), vm_class)
        try:
            result = vm.import_block(block)
            imported = result.block
            if imported.header != header:
                raise InvalidBlock(_header_mismatch(imported.header, header), number)
            receipts = imported.get_receipts(self.chaindb)
            new_canonical, _old = self.chaindb.persist_block(imported)
            if not new_canonical and self._prefer_over_head(imported.header):
                new_canonical = self._canonicalize(imported.header)
        except ValidationError as exc:
            raise InvalidBlock(str(exc), number) from exc
        self._commit(imported, receipts)
        return bool(new_canonical)

    def decode_block(self, payload: bytes | list[Any]) -> BlockAPI:
        """Decode one RLP block; the VM (header shape) is chosen by its number and timestamp."""
        items = rlp.decode(payload) if isinstance(payload, bytes) else payload
        try:
            number = rlp.sedes.big_endian_int.deserialize(items[0][8])
            timestamp = rlp.sedes.big_endian_int.deserialize(items[0][11])
        except (IndexError, TypeError, rlp.exceptions.DeserializationError) as exc:
            raise InvalidBlock(f"malformed block RLP: {exc}") from exc
        block_class = self.vm_class_for(number, timestamp).get_block_class()
        try:
            return block_class.deserialize(items)
        except rlp.exceptions.DeserializationError as exc:
            raise InvalidBlock(f"malformed block RLP: {exc}", number) from exc

    def encode_block(self, number: int) -> bytes:
        return rlp.encode(self._evm_block(self.header_by_number(number)))

    def raw_header(self, header: BlockHeaderAPI) -> bytes:
        return rlp.encode(header)

    def raw_receipts(self, header: BlockHeaderAPI) -> list[bytes]:
        return [r.encode() if hasattr(r, "encode") else rlp.encode(r) for r in self._evm_receipts(header)]

    def raw_transaction(self, tx_hash: bytes) -> bytes | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        tx = self._evm_block(header).transactions[index]
        return tx.encode() if hasattr(tx, "encode") else rlp.encode(tx)

    # ------------------------------------------------------------------------------------------ records
    def header_record(self, header: BlockHeaderAPI) -> HeaderRecord:
        return HeaderRecord(
            number=header.block_number,
            hash=header.hash,
            parent_hash=header.parent_hash,
            uncles_hash=header.uncles_hash,
            coinbase=header.coinbase,
            state_root=header.state_root,
            transactions_root=header.transaction_root,
            receipts_root=header.receipt_root,
            bloom=header.bloom,
            difficulty=header.difficulty,
            gas_limit=header.gas_limit,
            gas_used=header.gas_used,
            timestamp=header.timestamp,
            extra_data=header.extra_data,
            mix_hash=header.mix_hash,
            nonce=header.nonce,
            base_fee=getattr(header, "base_fee_per_gas", None),
            withdrawals_root=getattr(header, "withdrawals_root", None),
            blob_gas_used=getattr(header, "blob_gas_used", None),
            excess_blob_gas=getattr(header, "excess_blob_gas", None),
            parent_beacon_block_root=getattr(header, "parent_beacon_block_root", None),
            requests_hash=getattr(header, "requests_hash", None),
        )

    def tx_record(
        self, tx: SignedTransactionAPI, header: BlockHeaderAPI | None = None, index: int | None = None
    ) -> TxRecord:
        type_id = getattr(tx, "type_id", None) or 0
        to = tx.to or None
        common: dict[str, Any] = {
            "hash": tx.hash,
            "type": type_id,
            "sender": self._sender(tx),
            "nonce": tx.nonce,
            "to": to,
            "value": tx.value,
            "gas": tx.gas,
            "data": tx.data,
            "block_hash": header.hash if header is not None else None,
            "block_number": header.block_number if header is not None else None,
            "index": index,
            "base_fee": getattr(header, "base_fee_per_gas", None) if header is not None else None,
            "block_timestamp": header.timestamp if header is not None else None,
        }
        if type_id == 0:
            v = tx.v
            chain_id = (v - 35) // 2 if v >= 35 else None
            return TxRecord(v=v, r=tx.r, s=tx.s, chain_id=chain_id, gas_price=tx.gas_price, **common)
        access_list = tuple(
            AccessListEntry(bytes(a), tuple(int(k) for k in keys_)) for a, keys_ in tx.access_list
        )
        fields: dict[str, Any] = {
            "v": tx.y_parity,
            "r": tx.r,
            "s": tx.s,
            "chain_id": tx.chain_id,
            "access_list": access_list,
        }
        if type_id == 1:
            fields["gas_price"] = tx.gas_price
        else:
            fields["max_fee"] = tx.max_fee_per_gas
            fields["max_priority_fee"] = tx.max_priority_fee_per_gas
        if type_id == 3:
            fields["max_fee_per_blob_gas"] = tx.max_fee_per_blob_gas
            fields["blob_versioned_hashes"] = tuple(bytes(h) for h in tx.blob_versioned_hashes)
        if type_id == 4:
            fields["authorizations"] = tuple(
                Authorization(a.chain_id, bytes(a.address), a.nonce, a.y_parity, a.r, a.s)
                for a in tx.authorization_list
            )
        return TxRecord(**fields, **common)

    def block_record(self, header: BlockHeaderAPI, full: bool = True) -> BlockRecord:
        block = self._evm_block(header)
        txs = tuple(self.tx_record(tx, header, i) for i, tx in enumerate(block.transactions)) if full else ()
        withdrawals = None
        if hasattr(block, "withdrawals"):
            withdrawals = tuple(
                {
                    "index": w.index,
                    "validatorIndex": w.validator_index,
                    "address": w.address,
                    "amount": w.amount,
                }
                for w in block.withdrawals
            )
        return BlockRecord(
            header=self.header_record(header),
            size=len(rlp.encode(block)),
            transactions=txs,
            uncles=tuple(u.hash for u in block.uncles),
            withdrawals=withdrawals,
        )

    def tx_hashes(self, header: BlockHeaderAPI) -> tuple[bytes, ...]:
        return tuple(tx.hash for tx in self._evm_block(header).transactions)

    def tx_count(self, header: BlockHeaderAPI) -> int:
        return len(self._evm_block(header).transactions)

    def _locate(self, tx_hash: bytes) -> tuple[BlockHeaderAPI, int] | None:
        try:
            number, index = self.chaindb.get_transaction_index(Hash32(tx_hash))
        except (TransactionNotFound, KeyError):
            return None
        if number > self.head.block_number:
            return None
        header = self.header_by_number(number)
        # py-evm never removes the lookups of blocks a reorganisation made non-canonical: check the hash.
        txs = self._evm_block(header).transactions
        if index >= len(txs) or txs[index].hash != tx_hash:
            return None
        return header, index

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        return self.tx_record(self._evm_block(header).transactions[index], header, index)

    def transaction_by_index(self, header: BlockHeaderAPI, index: int) -> TxRecord | None:
        txs = self._evm_block(header).transactions
        if index >= len(txs):
            return None
        return self.tx_record(txs[index], header, index)

    def _evm_receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        receipts = self._receipts.get(header.hash)
        if receipts is None:
            block_class = self.vm_class_for(header.block_number, header.timestamp).get_block_class()
            receipts = self.chaindb.get_receipts(header, block_class.get_receipt_builder())
            self._receipts.put(header.hash, receipts)
        return receipts

    def block_receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptRecord, ...]:
        cached = self._receipt_records.get(header.hash)
        if cached is None:
            cached = self._block_receipts(header)
            self._receipt_records.put(header.hash, cached)
        return cached

    def _block_receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptRecord, ...]:
        block = self._evm_block(header)
        receipts = self._evm_receipts(header)
        fork = self.genesis.schedule.fork_at(header.block_number, header.timestamp)
        blob_price = None
        if fork in _BLOB_FORKS:
            blob_price = fake_exponential(1, header.excess_blob_gas, _BLOB_FORKS[fork])
        base_fee = getattr(header, "base_fee_per_gas", None)
        out: list[ReceiptRecord] = []
        previous = 0
        log_index = 0
        for i, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            sender = self._sender(tx)
            type_id = getattr(tx, "type_id", None) or 0
            record = self.tx_record(tx, header, i)
            logs = []
            for entry in receipt.logs:
                logs.append(
                    LogRecord(
                        address=entry.address,
                        topics=tuple(_topic_bytes(t) for t in entry.topics),
                        data=entry.data,
                        block_number=header.block_number,
                        block_hash=header.hash,
                        tx_hash=tx.hash,
                        tx_index=i,
                        log_index=log_index,
                        block_timestamp=header.timestamp,
                    )
                )
                log_index += 1
            state_root = receipt.state_root
            status: int | None
            root: bytes | None = None
            if len(state_root) == 32:
                status, root = None, state_root
            else:
                status = 1 if state_root == b"\x01" else 0
            out.append(
                ReceiptRecord(
                    tx_hash=tx.hash,
                    tx_index=i,
                    block_hash=header.hash,
                    block_number=header.block_number,
                    sender=sender,
                    to=tx.to or None,
                    type=type_id,
                    cumulative_gas_used=receipt.gas_used,
                    gas_used=receipt.gas_used - previous,
                    effective_gas_price=record.effective_gas_price(base_fee),
                    contract_address=contract_address(sender, tx.nonce) if not tx.to else None,
                    logs=tuple(logs),
                    bloom=receipt.bloom,
                    status=status,
                    root=root,
                    blob_gas_used=len(tx.blob_versioned_hashes) * GAS_PER_BLOB if type_id == 3 else None,
                    blob_gas_price=blob_price if type_id == 3 else None,
                )
            )
            previous = receipt.gas_used
        return tuple(out)

    def receipt(self, tx_hash: bytes) -> ReceiptRecord | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        return self.block_receipts(header)[index]

    def logs(
        self,
        first: int,
        last: int,
        addresses: Sequence[bytes],
        topics: Sequence[Sequence[bytes] | None],
        block_hash: bytes | None = None,
        limit: int = 10_000,
    ) -> list[LogRecord]:
        """Logs matching the filter; candidate blocks come from the SQLite log index, not a scan."""
        if block_hash is not None:
            candidates: Iterable[int] = [self.header_by_hash(block_hash).block_number]
            headers = [self.header_by_hash(block_hash)]
        else:
            criteria: list[set[int]] = []
            if addresses:
                criteria.append(self.store.blocks_with([address_key(a) for a in addresses], first, last))
            for pos, alternatives in enumerate(topics):
                if alternatives:
                    criteria.append(
                        self.store.blocks_with([topic_key(pos, t) for t in alternatives], first, last)
                    )
            candidates = sorted(set.intersection(*criteria)) if criteria else range(first, last + 1)
            headers = (self.header_by_number(n) for n in candidates)  # type: ignore[assignment]
        found: list[LogRecord] = []
        address_set = set(addresses)
        for header in headers:
            if header.bloom == 0:
                continue
            for receipt in self.block_receipts(header):
                for entry in receipt.logs:
                    if address_set and entry.address not in address_set:
                        continue
                    if not _topics_match(entry.topics, topics):
                        continue
                    found.append(entry)
                    if len(found) > limit:
                        raise TransactionRejected(f"query returned more than {limit} results")
        return found

    def blob_base_fee(self, header: BlockHeaderAPI) -> int:
        fork = self.genesis.schedule.fork_at(header.block_number + 1, header.timestamp + 1)
        if fork not in _BLOB_FORKS:
            return 0
        vm_class = self._vm_classes[fork]
        child = vm_class.create_header_from_parent(header, timestamp=header.timestamp + 1)
        return fake_exponential(1, child.excess_blob_gas, _BLOB_FORKS[fork])

    def header_blob_base_fee(self, header: BlockHeaderAPI) -> int | None:
        fork = self.genesis.schedule.fork_at(header.block_number, header.timestamp)
        if fork not in _BLOB_FORKS:
            return None
        return fake_exponential(1, header.excess_blob_gas, _BLOB_FORKS[fork])

    def precompiles(self, fork: str) -> tuple[bytes, ...]:
        """Addresses of the precompiled contracts ``fork`` has (``eth_config``)."""
        computation_class = self._vm_classes[fork].get_state_class().computation_class
        return tuple(sorted(bytes(a) for a in computation_class.get_precompiles()))

    def blob_limits(self, header: BlockHeaderAPI) -> int | None:
        fork = self.genesis.schedule.fork_at(header.block_number, header.timestamp)
        return {"cancun": 6 * GAS_PER_BLOB, "prague": 9 * GAS_PER_BLOB}.get(fork)


class CallReader(_Calls):
    """User calls on committed state from a thread other than the chain thread, so they never hold up sealing.

    It shares only what never changes after ``Chain`` is built (genesis, VM classes); state comes through its
    own ``StoreReader`` and every call writes into a throwaway ``OverlayDB``. One per thread.
    """

    def __init__(self, chain: Chain) -> None:
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


def _set_block_transactions_and_withdrawals(
    vm: Any,
    base_block: BlockAPI,
    new_header: BlockHeaderAPI,
    transactions: Sequence[SignedTransactionAPI],
    receipts: Sequence[ReceiptAPI],
    withdrawals: Sequence[Any] | None = None,
) -> BlockAPI:
    """py-evm's ``VM.set_block_transactions_and_withdrawals`` with the tries built in one pass."""
    tx_root, tx_nodes = ordered_trie_root([tx.encode() for tx in transactions])
    vm.chaindb.persist_trie_data_dict(tx_nodes)
    receipt_root, receipt_nodes = ordered_trie_root([r.encode() for r in receipts])
    vm.chaindb.persist_trie_data_dict(receipt_nodes)
    block_fields: dict[str, Any] = {"transactions": transactions}
    header_fields: dict[str, Any] = {"transaction_root": tx_root, "receipt_root": receipt_root}
    if withdrawals:
        withdrawals_root, withdrawal_nodes = ordered_trie_root([w.encode() for w in withdrawals])
        vm.chaindb.persist_trie_data_dict(withdrawal_nodes)
        block_fields["withdrawals"] = withdrawals
        header_fields["withdrawals_root"] = withdrawals_root
    block_fields["header"] = new_header.copy(**header_fields)
    return base_block.copy(**block_fields)


def _checked_sender(tx: SignedTransactionAPI) -> Address:
    """``tx.check_signature_validity()`` then ``tx.sender``, with one public-key recovery instead of two.

    For typed transactions this is py-evm's ``validate_transaction_signature`` and
    ``extract_transaction_sender`` merged (a fifth of admission time went to the second recovery); legacy
    transactions keep py-evm's own path (their ``v`` carries the chain id).
    """
    if getattr(tx, "type_id", None) is None:
        tx.check_signature_validity()
        return tx.sender
    message = tx.get_message_for_signing()
    signature = keys.Signature(vrs=(tx.y_parity, tx.r, tx.s))
    public_key = signature.recover_public_key_from_msg(message)
    if not signature.verify_msg(message, public_key):
        raise ValidationError("Invalid Signature")
    return Address(public_key.to_canonical_address())


_SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
_SLOT_OPS = frozenset({0x54, 0x55})  # SLOAD, SSTORE
_ADDRESS_OPS = frozenset({0x31, 0x3B, 0x3C, 0x3F, 0xFF})  # BALANCE, EXTCODESIZE/COPY/HASH, SELFDESTRUCT
_CALL_OPS = frozenset({0xF1, 0xF2, 0xF4, 0xFA})  # CALL, CALLCODE, DELEGATECALL, STATICCALL


def _word(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


class _AccessTracer:
    """geth's ``AccessListTracer``: the addresses and storage slots a call touches, read off the stack
    before the opcodes that touch them run. Excluded addresses are listed only for their slots."""

    def __init__(self, exclude: set[bytes], initial: Sequence[AccessListEntry]) -> None:
        self.exclude = exclude
        self.slots: dict[bytes, set[int]] = {}
        for entry in initial:
            if entry.address not in exclude:
                self.slots.setdefault(entry.address, set())
            for key in entry.storage_keys:
                self.slots.setdefault(entry.address, set()).add(key)

    def access_list(self) -> tuple[AccessListEntry, ...]:
        return tuple(AccessListEntry(a, tuple(sorted(self.slots[a]))) for a in sorted(self.slots))

    def _address(self, word: int | bytes) -> None:
        address = (_word(word) & (2**160 - 1)).to_bytes(20, "big")
        if address not in self.exclude:
            self.slots.setdefault(address, set())

    def _wrap(self, op: int, fn: Any) -> Any:
        def traced(computation: Any) -> Any:
            stack = computation._stack.values
            if stack:
                if op in _SLOT_OPS:
                    self.slots.setdefault(computation.msg.storage_address, set()).add(_word(stack[-1]))
                elif op in _ADDRESS_OPS:
                    self._address(stack[-1])
                elif len(stack) >= 5:
                    self._address(stack[-2])
            return fn(computation=computation)

        traced.mnemonic = getattr(fn, "mnemonic", hex(op))  # type: ignore[attr-defined]
        return traced

    def vm_class(self, vm_class: Any) -> Any:
        """``vm_class`` whose computations report to this tracer (a configured copy, never mutated)."""
        state_class = vm_class.get_state_class()
        computation_class = state_class.computation_class
        opcodes = dict(computation_class.opcodes)
        for op in _SLOT_OPS | _ADDRESS_OPS | _CALL_OPS:
            if op in opcodes:
                opcodes[op] = self._wrap(op, opcodes[op])
        traced = computation_class.configure(__name__=f"Traced{computation_class.__name__}", opcodes=opcodes)
        return vm_class.configure(_state_class=state_class.configure(computation_class=traced))


def _refund_quotient(header: BlockHeaderAPI) -> int:
    """EIP-3529: refunds are capped at a fifth of the gas used from London on, a half before."""
    return 5 if hasattr(header, "base_fee_per_gas") else 2


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


def _topics_match(actual: Sequence[bytes], wanted: Sequence[Sequence[bytes] | None]) -> bool:
    if len(wanted) > len(actual):
        return False
    for pos, alternatives in enumerate(wanted):
        if alternatives and actual[pos] not in alternatives:
            return False
    return True


def _raise_for_computation(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    error = computation.error
    from eth.exceptions import Revert

    if isinstance(error, Revert):
        data = computation.output
        raise ExecutionReverted(data, _revert_reason(data))
    raise ExecutionFailed(_geth_reason(type(error).__name__ + (f": {error}" if str(error) else "")))


def _revert_reason(data: bytes) -> str | None:
    """Decode ``Error(string)`` and ``Panic(uint256)`` payloads the way geth words them."""
    if len(data) >= 68 and data[:4] == bytes.fromhex("08c379a0"):
        try:
            length = int.from_bytes(data[36:68], "big")
            return data[68 : 68 + length].decode("utf-8", "replace")
        except (ValueError, OverflowError):
            return None
    if len(data) == 36 and data[:4] == bytes.fromhex("4e487b71"):
        code = int.from_bytes(data[4:36], "big")
        return (
            "assert(false)" if code == 1 else f"panic: {_PANICS.get(code, 'unknown panic code')} (0x{code:x})"
        )
    return None


_PANICS = {
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


def _geth_reason(message: str) -> str:
    """Map py-evm validation messages onto geth's wording, which clients match on."""
    lowered = message.lower()
    if "nonce" in lowered and ("invalid" in lowered or "expected" in lowered):
        return f"nonce too low: {message}" if "lower" in lowered else f"invalid nonce: {message}"
    if "insufficient" in lowered or "sender balance" in lowered:
        return f"insufficient funds for gas * price + value: {message}"
    if "OutOfGas" in message:
        return "out of gas"
    if "max fee per gas" in lowered and "base fee" in lowered:
        return f"max fee per gas less than block base fee: {message}"
    return message


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


def _header_mismatch(ours: BlockHeaderAPI, theirs: BlockHeaderAPI) -> str:
    diffs = [
        f"{name}: computed {getattr(ours, name)!r}, block has {getattr(theirs, name)!r}"
        for name in ours._meta.field_names  # type: ignore[attr-defined]
        if getattr(ours, name) != getattr(theirs, name)
    ]
    return "block does not match its execution: " + "; ".join(diffs[:3])


def _strip_blob_sidecar(raw: bytes) -> bytes:
    """Network-form blob transactions wrap ``[tx, blobs, commitments, proofs]``; keep only the tx."""
    items = rlp.decode(raw[1:])
    if items and isinstance(items[0], list):
        return b"\x03" + rlp.encode(items[0])
    return raw


def run_timed(fn: Callable[[], _T]) -> tuple[_T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
