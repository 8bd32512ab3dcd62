# Over 500 lines on purpose: eth_simulateV1's whole block builder (overrides, validation, transfers) is one concept.
"""``eth_simulateV1``: a chain of blocks built on a committed block from calls, with state and block overrides.

Part of the chain layer (it drives py-evm VMs). Each simulated block is built as the node builds a real one -
system calls first, then the calls as transactions (unsigned: zero signature, the caller as sender), withdrawals
none, Prague's requests, state root - on a throwaway overlay of the store, so a block's hash, roots and state
are what a real block with those transactions would have. What a call cannot do (a validation failure) ends the
whole simulation with the spec's ``-380xx`` code; what a call does (revert, out of gas) is its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address
from eth_utils import ValidationError, to_checksum_address

from ..calls import CallBudget, budget_scope
from ..errors import NodeError
from ..records import AccessListEntry, CallRequest, HeaderRecord, LogRecord, TxRecord
from ..storage import OverlayDB
from .chaindb import NodeChainDB
from .headers import header_record
from .initcode import intrinsic_gas
from .reader import CallReader
from .tracing import SELFDESTRUCT, TraceHub, Tracer, error_text, revert_reason, word

MAX_BLOCKS = 256  # geth's maxSimulateBlocks
BLOCK_TIME = 12  # seconds between simulated blocks when a block names no time (geth)
# ERC-7528's pseudo-address for ether and ERC-20's Transfer topic: the logs ``traceTransfers`` adds.
ETH_ADDRESS = b"\xee" * 20
TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")


class SimulationError(NodeError):
    """The simulation cannot go on; ``code`` is the execution-apis code (-38010 nonce too low, ...)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BlockOverrides:
    number: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    fee_recipient: bytes | None = None
    prev_randao: bytes | None = None
    base_fee: int | None = None
    blob_base_fee: int | None = None


@dataclass(frozen=True)
class AccountOverride:
    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None  # the whole storage
    state_diff: dict[int, int] | None = None  # these slots only
    move_precompile_to: bytes | None = None


@dataclass(frozen=True)
class SimBlock:
    overrides: BlockOverrides = BlockOverrides()
    state: dict[bytes, AccountOverride] = field(default_factory=dict)
    calls: tuple[CallRequest, ...] = ()


@dataclass(frozen=True)
class CallOutcome:
    status: int
    return_data: bytes
    gas_used: int
    max_used_gas: int
    logs: tuple[LogRecord, ...]
    error: tuple[int, str, bytes | None] | None  # (code, message, revert data)


@dataclass(frozen=True)
class SimulatedBlock:
    header: HeaderRecord
    size: int
    transactions: tuple[TxRecord, ...]
    outcomes: tuple[CallOutcome, ...]


class _Transfers(Tracer):
    """``traceTransfers``: an ERC-7528 log for every ether transfer of a call frame that succeeds."""

    def __init__(self) -> None:
        self.frames: list[list[tuple[bytes, bytes, int]]] = [[]]
        self.dropped = 0  # transfers of failed frames: geth numbers them (logIndex) though it drops them

    def enter(self, kind: str, message: Any, parent: Any, state: Any) -> None:
        self.frames.append([])
        if message.value and message.should_transfer_value:
            self.frames[-1].append((bytes(message.sender), bytes(message.storage_address), message.value))

    def opcode(self, op: int, name: str, computation: Any, run: Callable[[], None]) -> None:
        stack = computation._stack.values
        if op == SELFDESTRUCT and stack:  # the contract's balance goes to the beneficiary
            here = computation.msg.storage_address
            value = computation.state.get_balance(here)
            if value:
                to = (word(stack[-1]) & (2**160 - 1)).to_bytes(20, "big")
                self.frames[-1].append((bytes(here), to, value))
        run()

    def exit(self, computation: Any | None, error: BaseException | None) -> None:
        frame = self.frames.pop()
        if computation is not None and not computation.is_error:
            self.frames[-1].extend(frame)
        else:
            self.dropped += len(frame)

    def logs(self) -> list[tuple[bytes, tuple[bytes, ...], bytes]]:
        return [
            (ETH_ADDRESS, (TRANSFER_TOPIC, a.rjust(32, b"\0"), b.rjust(32, b"\0")), v.to_bytes(32, "big"))
            for a, b, v in self.frames[0]
        ]

    def result(self, state: Any, computation: Any, gas_used: int, tx: Any) -> Any:
        return None


def simulate(
    reader: CallReader,
    base: HeaderRecord,
    blocks: Sequence[SimBlock],
    *,
    validation: bool,
    trace_transfers: bool,
    budget: CallBudget,
) -> list[SimulatedBlock]:
    """Simulate ``blocks`` on top of ``base`` (a committed block) with a ``CallReader``'s VMs."""
    reader._require_state(base.state_root)
    with budget_scope(budget):
        return _Simulation(reader, validation, trace_transfers, budget).run(reader._evm_header(base), blocks)


class _Simulation:
    def __init__(
        self,
        reader: Any,
        validation: bool,
        trace_transfers: bool,
        budget: CallBudget,
    ) -> None:
        self.reader = reader
        self.validation = validation
        self.trace_transfers = trace_transfers
        self.db = AtomicDB(OverlayDB(reader._reader))  # one overlay for the whole chain of simulated blocks
        self.chaindb = NodeChainDB(self.db)
        self.gas_pool = budget.gas_cap or 2**63
        self.hub = TraceHub()
        self.chain_id = reader.genesis.chain_id
        self._unsigned: dict[bytes, Any] = {}  # zero-signature tx hash -> what the VM runs

    # ------------------------------------------------------------------------------------------ the plan
    def run(self, base: Any, blocks: Sequence[SimBlock]) -> list[SimulatedBlock]:
        if len(blocks) > MAX_BLOCKS:
            raise SimulationError(-38026, f"too many blocks (limit {MAX_BLOCKS})")
        plan: list[tuple[int, int, SimBlock]] = []
        number, stamp = int(base.block_number), int(base.timestamp)
        for sim in blocks:
            wanted = sim.overrides.number
            if wanted is not None and wanted <= number:
                raise SimulationError(-38020, f"block numbers must be in order: {wanted} <= {number}")
            while wanted is not None and number + 1 < wanted:  # a gap: geth fills it with empty blocks
                number, stamp = number + 1, stamp + BLOCK_TIME
                plan.append((number, stamp, SimBlock()))
            number += 1
            if sim.overrides.time is not None:
                if sim.overrides.time <= stamp:
                    raise SimulationError(
                        -38021, f"block timestamps must be in order: {sim.overrides.time} <= {stamp}"
                    )
                stamp = sim.overrides.time
            else:
                stamp += BLOCK_TIME
            plan.append((number, stamp, sim))
        if len(plan) > MAX_BLOCKS:
            raise SimulationError(-38026, f"too many blocks (limit {MAX_BLOCKS})")
        out: list[SimulatedBlock] = []
        parent = base
        for number, stamp, sim in plan:
            block, parent = self._block(parent, number, stamp, sim)
            out.append(block)
        return out

    # ------------------------------------------------------------------------------------------ a block
    def _vm_class(self, number: int, stamp: int, sim: SimBlock) -> Any:
        overrides = sim.state
        vm_class = self.reader._timed(self.reader.vm_class_for(number, stamp))
        blob_fee = sim.overrides.blob_base_fee
        if blob_fee is not None and hasattr(vm_class.get_state_class(), "blob_base_fee"):
            # the blob base fee the block charges and BLOBBASEFEE reads (py-evm derives it from excess gas)
            state_class = vm_class.get_state_class()
            vm_class = vm_class.configure(
                _state_class=state_class.configure(blob_base_fee=property(lambda _: blob_fee))
            )
        state_class = vm_class.get_state_class()
        computation = state_class.computation_class
        precompiles = _precompiles(computation._precompiles, overrides)
        if precompiles is not None:
            computation = computation.configure(_precompiles=precompiles)
            warm = frozenset(state_class.computation_class.get_precompiles())

            def is_address_warm(state: Any, address: Address) -> bool:
                # geth warms the fork's precompile addresses (EIP-2929), wherever the overrides moved them
                return bool(state._account_db.is_address_warm(address)) or address in warm

            vm_class = vm_class.configure(
                _state_class=state_class.configure(
                    computation_class=computation, is_address_warm=is_address_warm
                )
            )
        return self.hub.vm_class(vm_class) if self.trace_transfers else vm_class

    def _header(self, vm_class: Any, parent: Any, number: int, stamp: int, o: BlockOverrides) -> Any:
        fields: dict[str, Any] = {"timestamp": stamp, "gas_limit": o.gas_limit or parent.gas_limit}
        header = vm_class.create_header_from_parent(parent, **fields)
        changes: dict[str, Any] = {
            "mix_hash": o.prev_randao or b"\0" * 32,
            "block_number": number,
            "nonce": b"\0" * 8,
            # geth: a block names the previous simulated block's fee recipient unless it overrides it
            "coinbase": Address(o.fee_recipient or parent.coinbase),
        }
        if hasattr(header, "base_fee_per_gas"):
            # geth: without validation a block has no base fee to pay (0) unless the caller names one
            changes["base_fee_per_gas"] = (
                o.base_fee if o.base_fee is not None else (header.base_fee_per_gas if self.validation else 0)
            )
        if hasattr(header, "parent_beacon_block_root"):
            changes["parent_beacon_block_root"] = b"\0" * 32
        return header.copy(**changes)

    def _vm(self, vm_class: Any, header: Any) -> Any:
        return vm_class(
            header=header,
            chaindb=self.chaindb,
            chain_context=self.reader.chain_context,
            consensus_context=self.reader._context_class(self.db),
        )

    def _block(self, parent: Any, number: int, stamp: int, sim: SimBlock) -> tuple[SimulatedBlock, Any]:
        vm_class = self._vm_class(number, stamp, sim)
        header = self._header(vm_class, parent, number, stamp, sim.overrides)
        vm = self._vm(vm_class, header)
        vm.block_preprocessing(vm.get_block())
        self._override_state(vm.state, sim.state)
        running = header.copy(gas_used=0)
        txs: list[Any] = []
        senders: list[bytes] = []
        receipts: list[Any] = []
        raw_outcomes: list[tuple[Any, int, int, list[Any], int]] = []
        for index, call in enumerate(sim.calls):
            tx, sender = self._transaction(vm, running, call, index)
            transfers = _Transfers() if self.trace_transfers else None
            self.hub.current = transfers
            try:
                receipt, computation = self._apply(vm, running, tx, sender)
            finally:
                self.hub.current = None
            gas_used = receipt.gas_used - running.gas_used
            self.gas_pool -= gas_used
            running = vm.add_receipt_to_header(running, receipt)
            if hasattr(vm, "increment_blob_gas_used"):  # as py-evm's apply_all_transactions (Cancun on)
                running = vm.increment_blob_gas_used(running, tx)
            max_used = max(gas_used, tx.intrinsic_gas + computation.get_gas_used())
            extra = transfers.logs() if transfers is not None else []
            skipped = transfers.dropped if transfers is not None else 0
            txs.append(tx)
            senders.append(sender)
            receipts.append(receipt)
            raw_outcomes.append((computation, gas_used, max_used, extra, skipped))
        withdrawals: list[Any] | None = [] if hasattr(running, "withdrawals_root") else None
        filled = vm.set_block_transactions_and_withdrawals(
            vm.get_block(), running, txs, receipts, withdrawals=withdrawals
        )
        processed = vm.block_postprocessing(filled)
        final = vm.finalize_block(processed).block
        self.chaindb.persist_header(final.header)
        return self._records(final, txs, senders, receipts, raw_outcomes), final.header

    # -------------------------------------------------------------------------------------- overrides
    @staticmethod
    def _override_state(state: Any, overrides: dict[bytes, AccountOverride]) -> None:
        for raw, o in overrides.items():
            address = Address(raw)
            if o.balance is not None:
                state.set_balance(address, o.balance)
            if o.nonce is not None:
                state.set_nonce(address, o.nonce)
            if o.code is not None:
                state.set_code(address, o.code)
            if o.state is not None:
                state.delete_storage(address)
                for slot, value in o.state.items():
                    state.set_storage(address, slot, value)
            for slot, value in (o.state_diff or {}).items():
                state.set_storage(address, slot, value)
        state.lock_changes()

    # ----------------------------------------------------------------------------------- transactions
    def _transaction(self, vm: Any, header: Any, call: CallRequest, index: int) -> tuple[Any, bytes]:
        """The call as an unsigned transaction (geth's defaults), checked as geth checks it."""
        state = vm.state
        sender = call.sender or b"\0" * 20
        nonce = call.nonce if call.nonce is not None else state.get_nonce(Address(sender))
        remaining = header.gas_limit - header.gas_used
        gas = call.gas if call.gas is not None else min(remaining, self.gas_pool)
        if header.gas_used + gas > header.gas_limit:
            raise SimulationError(-38015, f"block gas limit reached: {header.gas_used} >= {header.gas_limit}")
        builder = vm.get_transaction_builder()
        to = Address(call.to) if call.to is not None else b""
        access = tuple((e.address, e.storage_keys) for e in call.access_list)
        base_fee = getattr(header, "base_fee_per_gas", None)
        if call.blob_versioned_hashes and hasattr(builder, "new_blob_transaction"):
            max_fee, tip = call.max_fee or 0, call.max_priority_fee or 0
            blob = (call.max_fee_per_blob_gas or 0, call.blob_versioned_hashes)
            blob_fields = (self.chain_id, nonce, tip, max_fee, gas, to, call.value, call.data, access, *blob)
            tx = builder.new_blob_transaction(*blob_fields, 0, 0, 0)
            unsigned = builder.new_unsigned_blob_transaction(*blob_fields)
            fee_cap = max_fee
        elif base_fee is not None and call.gas_price is None:
            max_fee, tip = call.max_fee or 0, call.max_priority_fee or 0
            fields = (self.chain_id, nonce, tip, max_fee, gas, to, call.value, call.data, access)
            tx = builder.new_dynamic_fee_transaction(*fields, 0, 0, 0)
            unsigned = builder.new_unsigned_dynamic_fee_transaction(*fields)
            fee_cap = max_fee
        elif access and hasattr(builder, "new_access_list_transaction"):
            fee_cap = call.gas_price or 0
            list_fields = (self.chain_id, nonce, fee_cap, gas, to, call.value, call.data, access)
            tx = builder.new_access_list_transaction(*list_fields, 0, 0, 0)
            unsigned = builder.new_unsigned_access_list_transaction(*list_fields)
        else:
            fee_cap = call.gas_price or 0
            tx = builder.new_transaction(nonce, fee_cap, gas, to, call.value, call.data, 0, 0, 0)
            unsigned = builder.create_unsigned_transaction(
                nonce=nonce, gas_price=fee_cap, gas=gas, to=to, value=call.value, data=call.data
            )
        # The block holds the zero-signature transaction (its hash and roots are geth's); the VM runs the same
        # fields unsigned, as the caller.
        self._unsigned[tx.hash] = SpoofTransaction(unsigned, from_=Address(sender))
        who = to_checksum_address(sender)
        supplied = f"(supplied gas {gas})"
        state_nonce = state.get_nonce(Address(sender))
        if self.validation and nonce >= 2**64 - 1:
            raise SimulationError(
                -32603, f"err: nonce has max value: address {who}, nonce: {nonce} {supplied}"
            )
        if self.validation and nonce < state_nonce:
            raise SimulationError(
                -38010, f"err: nonce too low: address {who}, tx: {nonce} state: {state_nonce} {supplied}"
            )
        if self.validation and nonce > state_nonce:
            raise SimulationError(
                -38011, f"err: nonce too high: address {who}, tx: {nonce} state: {state_nonce} {supplied}"
            )
        if self.validation and base_fee is not None and fee_cap < base_fee:
            raise SimulationError(
                -38012,
                f"err: max fee per gas less than block base fee: address {who}, maxFeePerGas: {fee_cap}, "
                f"baseFee: {base_fee} {supplied}",
            )
        intrinsic = intrinsic_gas(type(vm), tx)  # EIP-3860's initcode words counted, as geth counts them
        if intrinsic > gas:
            raise SimulationError(
                -38013, f"err: intrinsic gas too low: have {gas}, want {intrinsic} {supplied}"
            )
        balance = state.get_balance(Address(sender))
        want = gas * fee_cap + call.value
        if balance < want:
            raise SimulationError(
                -38014,
                f"err: insufficient funds for gas * price + value: address {who} have {balance} want {want} "
                f"{supplied}",
            )
        return tx, sender

    def _apply(self, vm: Any, header: Any, tx: Any, sender: bytes) -> tuple[Any, Any]:
        state = vm.state
        address = Address(sender)
        state_nonce = state.get_nonce(address)
        if tx.nonce != state_nonce:  # without validation geth skips the nonce check; py-evm cannot, so align
            state.set_nonce(address, tx.nonce)
        context = state.execution_context
        base_fee = getattr(header, "base_fee_per_gas", None)
        # geth's NoBaseFee (no validation): a call whose fee cap is under the base fee runs and pays no fee;
        # py-evm refuses it, so it runs with the base fee at 0 (which is what it pays).
        fee_cap = tx.max_fee_per_gas if (getattr(tx, "type_id", None) or 0) >= 2 else tx.gas_price
        free = bool(not self.validation and base_fee and fee_cap < base_fee)
        try:  # py-evm's VM.apply_transaction, with the unsigned twin executed and the block's tx in the receipt
            if free:
                context._base_fee_per_gas = 0
            else:
                vm.validate_transaction_against_header(header, tx)
            state.lock_changes()
            computation = state.apply_transaction(self._unsigned[tx.hash])
            receipt = vm.make_receipt(header, tx, computation, state)
        except ValidationError as exc:
            raise SimulationError(-32000, f"err: {exc}") from exc
        finally:
            if free:
                context._base_fee_per_gas = base_fee
        if tx.nonce != state_nonce:
            state.set_nonce(address, state_nonce + 1)
        return receipt, computation

    # -------------------------------------------------------------------------------------------- records
    def _records(
        self,
        block: Any,
        txs: list[Any],
        senders: list[bytes],
        receipts: list[Any],
        raw: list[tuple[Any, int, int, list[Any], int]],
    ) -> SimulatedBlock:
        header = block.header
        base_fee = getattr(header, "base_fee_per_gas", None)
        records: list[TxRecord] = []
        outcomes: list[CallOutcome] = []
        log_index = 0
        for index, (tx, sender, receipt, (computation, gas_used, max_used, extra, skipped)) in enumerate(
            zip(txs, senders, receipts, raw, strict=True)
        ):
            typed = getattr(tx, "type_id", None) or 0
            records.append(
                TxRecord(
                    hash=tx.hash,
                    type=typed,
                    sender=sender,
                    nonce=tx.nonce,
                    to=tx.to or None,
                    value=tx.value,
                    gas=tx.gas,
                    data=tx.data,
                    v=0,
                    r=0,
                    s=0,
                    chain_id=self.chain_id,
                    gas_price=None if typed >= 2 else tx.gas_price,
                    max_fee=tx.max_fee_per_gas if typed >= 2 else None,
                    max_priority_fee=tx.max_priority_fee_per_gas if typed >= 2 else None,
                    access_list=_access_list(tx) if typed else None,
                    max_fee_per_blob_gas=tx.max_fee_per_blob_gas if typed == 3 else None,
                    blob_versioned_hashes=tuple(bytes(h) for h in tx.blob_versioned_hashes)
                    if typed == 3
                    else None,
                    block_hash=header.hash,
                    block_number=header.block_number,
                    index=index,
                    base_fee=base_fee,
                    block_timestamp=header.timestamp,
                )
            )
            entries = [(e.address, tuple(_topic(t) for t in e.topics), e.data) for e in receipt.logs] + [
                (a, t, d) for a, t, d in extra if not computation.is_error
            ]
            logs = []
            for address, topics, data in entries:
                logs.append(
                    LogRecord(
                        address=bytes(address),
                        topics=topics,
                        data=bytes(data),
                        block_number=header.block_number,
                        block_hash=header.hash,
                        tx_hash=tx.hash,
                        tx_index=index,
                        log_index=log_index,
                        block_timestamp=header.timestamp,
                    )
                )
                log_index += 1
            log_index += skipped
            error: tuple[int, str, bytes | None] | None = None
            if computation.is_error:
                if isinstance(computation.error, Revert):
                    reason = revert_reason(bytes(computation.output))
                    message = "execution reverted" + (f": {reason}" if reason else "")
                    error = (3, message, bytes(computation.output))
                else:
                    error = (-32015, error_text(computation.error), None)
            outcomes.append(
                CallOutcome(
                    status=0 if computation.is_error else 1,
                    return_data=b"" if computation.is_error else bytes(computation.output),
                    gas_used=gas_used,
                    max_used_gas=max_used,
                    logs=tuple(logs),
                    error=error,
                )
            )
        return SimulatedBlock(
            header=header_record(header),
            size=_block_size(block),
            transactions=tuple(records),
            outcomes=tuple(outcomes),
        )


def _precompiles(current: dict[Any, Any], overrides: dict[bytes, AccountOverride]) -> dict[Any, Any] | None:
    """This block's precompiles after the overrides (None: unchanged), by geth's rules: a precompile may move
    (``movePrecompileToAddress``) to an address no other override names; any override of a precompile's
    address takes the precompile away from it. Moves last one block, as in geth."""
    for raw, override in overrides.items():
        if override.move_precompile_to is not None and Address(raw) not in current:
            raise SimulationError(-32000, f"account {to_checksum_address(raw)} is not a precompile")
    if not any(Address(a) in current for a in overrides):
        return None
    out = dict(current)
    for raw, override in overrides.items():
        address = Address(raw)
        target = override.move_precompile_to
        if target is not None:
            if target in overrides:
                raise SimulationError(-38023, f"account {to_checksum_address(target)} is already overridden")
            out[Address(target)] = current[address]
        if address in current and out.get(address) is current[address]:
            del out[address]
    return out


def _block_size(block: Any) -> int:
    """Length of the block's RLP (typed transactions are byte strings inside it, as on the wire)."""
    txs = [tx.encode() if getattr(tx, "type_id", None) is not None else tx for tx in block.transactions]
    body: list[Any] = [block.header, txs, list(block.uncles)]
    if hasattr(block, "withdrawals"):
        body.append(list(block.withdrawals))
    return len(rlp.encode(body))


def _access_list(tx: Any) -> tuple[AccessListEntry, ...]:
    return tuple(AccessListEntry(bytes(a), tuple(int(k) for k in keys)) for a, keys in tx.access_list)


def _topic(topic: int | bytes) -> bytes:
    return topic if isinstance(topic, bytes) else topic.to_bytes(32, "big")


__all__ = [
    "AccountOverride",
    "BlockOverrides",
    "CallOutcome",
    "SimBlock",
    "SimulatedBlock",
    "SimulationError",
    "simulate",
]
