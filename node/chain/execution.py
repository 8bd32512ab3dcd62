"""Read-only execution on a block's state: ``eth_call``, ``eth_estimateGas``, ``eth_createAccessList``, and
geth's wording of the errors they end with. ``Calls`` is shared by ``Chain`` (its own calls on the chain
thread) and ``CallReader`` (user calls beside it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from eth.abc import BlockHeaderAPI, ComputationAPI, SignedTransactionAPI, StateAPI
from eth.exceptions import OutOfGas
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address
from eth_utils import ValidationError

from .. import consensus
from ..calls import CallBudget, budget_scope, deadline_vm_class
from ..errors import (
    ExecutionFailed,
    ExecutionReverted,
    StateUnavailable,
)
from ..genesis import Genesis
from ..records import (
    AccessListEntry,
    CallRequest,
    HeaderRecord,
)
from . import readset, sentry, tracing
from .calldata_floor import FLOOR_ERROR, data_floor_gas
from .initcode import intrinsic_error, intrinsic_gas

_CALL_STIPEND = 2300  # gas a value-carrying CALL hands over (geth's params.CallStipend)
_SSTORE_SENTRY = 2300  # EIP-2200: an SSTORE with this much gas left or less fails


class Calls:
    """Calls on a header's state (``eth_call``, ``eth_estimateGas``, ``eth_createAccessList``), shared by
    ``Chain`` (its own calls, e.g. permission checks, on the chain thread) and ``CallReader`` (user calls, on
    other threads). Subclasses provide the genesis, the VM classes, ``_vm``, ``_evm_header`` (a block's record
    back to its py-evm header: callers name blocks by ``HeaderRecord``) and ``_has_state_root`` (pruning)."""

    genesis: Genesis
    _derived_classes: dict[
        tuple[Any, ...], Any
    ]  # derived VM classes (deadline-checked, authored), built once
    _walked: list[bytes] | None = None  # state roots checked in the current ``CallReader.run``, if any

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        raise NotImplementedError

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        raise NotImplementedError

    def _evm_header(self, block: HeaderRecord) -> BlockHeaderAPI:
        raise NotImplementedError

    def _has_state_root(self, state_root: bytes) -> bool:
        raise NotImplementedError

    def _require_state(self, state_root: bytes) -> None:
        """Raise geth's "state ... is not available" for a state this node pruned, before a VM walks into
        its missing nodes."""
        if not self._has_state_root(state_root):
            raise StateUnavailable(state_root)
        if self._walked is not None:
            self._walked.append(state_root)

    def _spoof(self, request: CallRequest, header: BlockHeaderAPI, state: Any, gas: int) -> Any:
        vm_class = self.vm_class_for(header.block_number, header.timestamp)
        builder = vm_class.get_transaction_builder()
        sender = Address(request.sender or b"\0" * 20)
        # Like geth (SkipNonceChecks): a call never checks the nonce it names; clients such as ethers.js send
        # one from their own (possibly stale) cache with eth_estimateGas.
        nonce = state.get_nonce(sender)
        to = Address(request.to) if request.to is not None else b""
        # Before London a header has no base fee at all (py-evm raises AttributeError); after, it is an int.
        base_fee: int | None = getattr(header, "base_fee_per_gas", None)
        access_list = tuple((e.address, e.storage_keys) for e in request.access_list)
        # What every transaction type takes; the typed ones (EIP-2930 and after) add the chain id and access list.
        common: dict[str, Any] = {
            "nonce": nonce,
            "gas": gas,
            "to": to,
            "value": request.value,
            "data": request.data,
        }
        typed = {"chain_id": self.genesis.chain_id, "access_list": access_list, **common}
        if request.blob_versioned_hashes and hasattr(builder, "new_unsigned_blob_transaction"):
            unsigned = builder.new_unsigned_blob_transaction(
                **typed,
                max_priority_fee_per_gas=request.max_priority_fee or 0,
                max_fee_per_gas=request.max_fee or 0,
                max_fee_per_blob_gas=request.max_fee_per_blob_gas or 0,
                blob_versioned_hashes=request.blob_versioned_hashes,
            )
        elif base_fee is not None and (request.max_fee is not None or request.max_priority_fee is not None):
            max_fee = (
                request.max_fee
                if request.max_fee is not None
                else (base_fee * 2 + (request.max_priority_fee or 0))
            )
            unsigned = builder.new_unsigned_dynamic_fee_transaction(
                **typed, max_priority_fee_per_gas=request.max_priority_fee or 0, max_fee_per_gas=max_fee
            )
        elif access_list and hasattr(builder, "new_unsigned_access_list_transaction"):
            unsigned = builder.new_unsigned_access_list_transaction(**typed, gas_price=request.gas_price or 0)
        else:
            unsigned = builder.create_unsigned_transaction(**common, gas_price=request.gas_price or 0)
        return SpoofTransaction(unsigned, from_=sender)

    def _call_state(
        self,
        request: CallRequest,
        header: BlockHeaderAPI,
        vm_class: Any = None,
        budget: CallBudget | None = None,
    ) -> StateAPI:
        if budget is not None:
            vm_class = self._timed(vm_class or self.vm_class_for(header.block_number, header.timestamp))
        # Like geth: a call that names no fee runs with gas price 0 and a zero base fee, so that accounts
        # without ether can call views; a call that names fees is checked against the real base fee.
        no_fee = (
            request.gas_price in (None, 0) and request.max_fee in (None, 0) and not request.max_priority_fee
        )
        if no_fee and getattr(header, "base_fee_per_gas", None):
            # The zero base fee is the call's, not the block's: COINBASE still reads the block's sealer, which
            # the copied header's seal no longer recovers to.
            base = vm_class or self.vm_class_for(header.block_number, header.timestamp)
            vm_class = self._derived(base, "author", consensus.block_author(header))
            header = header.copy(base_fee_per_gas=0)
        self._require_state(header.state_root)
        state: StateAPI = self._vm(header, vm_class).state
        return state

    def _timed(self, vm_class: Any) -> Any:
        return self._derived(vm_class, "timed")

    def _derived(self, vm_class: Any, kind: str, author: bytes = b"") -> Any:
        """``vm_class`` checking the call budget's deadline (``timed``), noting the gas left at top-level
        SSTOREs (``sentry``), noting what a run read (``recording``) or with a fixed block author (``author``)."""
        key = (vm_class, kind, author)
        found = self._derived_classes.get(key)
        if found is None:
            if kind == "timed":
                found = deadline_vm_class(vm_class)
            elif kind == "sentry":
                found = sentry.watching_vm_class(vm_class)
            elif kind == "recording":
                found = readset.recording_vm_class(vm_class)
            else:
                found = consensus.sealing_vm_class(vm_class, Address(author))
            self._derived_classes[key] = found
        return found

    def call(self, request: CallRequest, block: HeaderRecord, budget: CallBudget | None = None) -> bytes:
        """Execute ``request`` on top of ``block``'s state; return output or raise ExecutionReverted/Failed
        (or ExecutionTimeout past the budget's deadline; the budget also caps the gas)."""
        return self._call(request, self._evm_header(block), budget)

    def _call(self, request: CallRequest, header: BlockHeaderAPI, budget: CallBudget | None = None) -> bytes:
        gas = request.gas or header.gas_limit
        with budget_scope(budget):
            computation = self._execute(request, header, budget.gas(gas) if budget else gas, budget)
        return computation.output

    def _execute(
        self, request: CallRequest, header: BlockHeaderAPI, gas: int, budget: CallBudget | None = None
    ) -> ComputationAPI:
        return self._run(self._call_state(request, header, budget=budget), request, header, gas)

    def _run(self, state: StateAPI, request: CallRequest, header: BlockHeaderAPI, gas: int) -> ComputationAPI:
        """Run ``request`` as a transaction on ``state`` (a ``_call_state``); raise as ``call`` does."""
        tx = self._spoof(request, header, state, gas)
        # Below its intrinsic gas (EIP-3860's initcode words counted, as geth counts them) a call gets geth's
        # words; py-evm would fail building its message. (An over-long initcode is refused by the VM's own
        # validation: chain/initcode.py.)
        want = intrinsic_gas(self.vm_class_for(header.block_number, header.timestamp), tx)
        if tx.gas < want:
            raise ExecutionFailed(intrinsic_error(tx.gas, want))
        try:
            computation = state.apply_transaction(tx)
        except ValidationError as exc:
            raise ExecutionFailed(geth_reason(str(exc))) from exc
        _raise_for_computation(computation)
        return computation

    def estimate_gas(
        self, request: CallRequest, block: HeaderRecord, budget: CallBudget | None = None
    ) -> int:
        """geth's strategy: run at the cap (revert -> error), try the gas used, then binary-search."""
        header = self._evm_header(block)
        cap = request.gas or header.gas_limit
        if budget is not None:
            cap = budget.gas(cap)  # geth: "caller gas above allowance, capping"
        with budget_scope(budget):
            return self._estimate(request, header, cap, budget)

    def _estimate(
        self, request: CallRequest, header: BlockHeaderAPI, cap: int, budget: CallBudget | None
    ) -> int:
        base = self.vm_class_for(header.block_number, header.timestamp)
        state = self._call_state(request, header, self._derived(base, "sentry"), budget)

        def attempt(gas: int) -> ComputationAPI | None:
            snapshot = state.snapshot()
            try:
                computation = state.apply_transaction(self._spoof(request, header, state, gas))
            except ValidationError as exc:
                if "intrinsic" in str(exc).lower() or "gas" in str(exc).lower():
                    return None
                raise ExecutionFailed(geth_reason(str(exc))) from exc
            finally:
                state.revert(snapshot)
            return computation

        with sentry.watching():
            top = attempt(cap)
        if top is None:
            raise ExecutionFailed(f"gas required exceeds allowance ({cap})")
        if top.is_error:
            if isinstance(top.error, OutOfGas):  # geth: out of gas at the cap is "exceeds allowance"
                raise ExecutionFailed(f"gas required exceeds allowance ({cap})")
            _raise_for_computation(top)
        # Execution gas plus intrinsic gas, before refunds: an upper bound of what the receipt would show
        # and usually enough on its own (geth tries this first too).
        intrinsic: int = self._spoof(request, header, state, cap).intrinsic_gas
        # Prague on, no limit below the calldata floor is valid (EIP-7623), whatever the run used.
        used = min(cap, max(intrinsic + top.get_gas_used(), data_floor_gas(base, request.data)))
        # A call that made no nested call usually succeeds with exactly what it used (one run more, and the
        # least gas there is); one that did hands its callees 63/64 of what is left, so with ``used`` alone
        # it would fail: geth's order then, the optimistic limit first.
        if not top.children:
            # With no nested call, the run is the same under any limit that never leaves an SSTORE with
            # 2,300 gas or less (EIP-2200's sentry): the least gas that does that. If the run read the gas
            # left or tried a call, one run more confirms it; else it is the answer as it stands (sentry.py).
            least = sentry.least()
            need = used if least is None else min(cap, max(used, cap - least + _SSTORE_SENTRY + 1))
            if not sentry.gas_sensitive():
                return need
            first = attempt(need)
            if first is not None and not first.is_error:
                return need
        lo, hi = used, cap
        # geth's next guess: what a call that checks its remaining gas (SSTORE's stipend sentry, the 63/64
        # rule of a CALL) needs on top, so the search starts in a window of a few percent, not up to the cap.
        optimistic = (used + _CALL_STIPEND) * 64 // 63
        if optimistic < hi:
            result = attempt(optimistic)
            if result is None or result.is_error:
                lo = optimistic
            else:
                hi = optimistic
        while hi - lo > 1 and (hi - lo) * 1000 > hi * 15:  # geth stops within 1.5 %
            mid = min((lo + hi) // 2, lo * 2)  # geth: skewed low, most calls need little more than used
            result = attempt(mid)
            if result is None or result.is_error:
                lo = mid
            else:
                hi = mid
        return hi

    def create_access_list(
        self, request: CallRequest, block: HeaderRecord, budget: CallBudget | None = None
    ) -> tuple[tuple[AccessListEntry, ...], int, str | None]:
        """geth's ``eth_createAccessList``: run the call with an opcode tracer until the list stops changing.

        Returns (access list, gas used with that list after refunds, execution error or None). Like geth, the
        sender, the recipient and precompiles are listed only for storage slots they touch; the nonce is not
        checked (the account's own is used).
        """
        with budget_scope(budget):
            return self._access_list(request, self._evm_header(block), budget)

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
                raise ExecutionFailed(geth_reason(str(exc))) from exc
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

    def _replay_inputs(
        self, header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[SignedTransactionAPI, ...]]:
        """What re-executing a block takes: its parent's header and its transactions."""
        raise NotImplementedError

    def trace(
        self,
        block: HeaderRecord,
        make: Callable[[], tracing.Tracer],
        only: int | None = None,
        budget: CallBudget | None = None,
    ) -> list[Any]:
        """``debug_trace*``: replay ``block`` on its parent's state with tracers (see tracing.py), within the
        budget's deadline."""
        header = self._evm_header(block)
        parent, txs = self._replay_inputs(header)
        self._require_state(parent.state_root)
        with budget_scope(budget):
            return tracing.replay(self, header, parent, txs, make, only)


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


def _raise_for_computation(computation: ComputationAPI) -> None:
    if not computation.is_error:
        return
    error = computation.error
    from eth.exceptions import Revert

    if isinstance(error, Revert):
        data = computation.output
        raise ExecutionReverted(data, _revert_reason(data))
    words = tracing.geth_words(error)
    if words is not None:
        raise ExecutionFailed(words)
    raise ExecutionFailed(geth_reason(type(error).__name__ + (f": {error}" if str(error) else "")))


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


def geth_reason(message: str) -> str:
    """Map py-evm validation messages onto geth's wording, which clients match on."""
    if message.startswith(FLOOR_ERROR):
        return message
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
