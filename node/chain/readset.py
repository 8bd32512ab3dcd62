"""What a call read, so that its result can be trusted on a later state where all of it is unchanged.

The EVM is deterministic: a call's outcome is a function of the state it reads, the block context it reads and
the gas it is given. A run under ``recording_vm_class`` notes the first value of every piece of state it read
until its message returned: the sender's nonce and balance, the target's code (a delegation's too), and every
slot, balance, code and account the message read. A value the run wrote before reading it is derived, not an
input. An instruction that reads the block (BLOCKHASH, COINBASE, TIMESTAMP, NUMBER, PREVRANDAO, GASLIMIT,
BASEFEE, BLOBHASH, BLOBBASEFEE, GASPRICE) makes the run *context-dependent*: nothing is kept. ``ReadSet.holds``
re-reads the values on another state: if every one is equal, the same call there takes the same path and gas
and gives the same result (``tests/node/test_readset.py`` checks this against fresh runs, property-tested).

Two inputs are not values. The fork: a result carries only to a block of the same VM. And the gas: a run's
gas depends on which addresses were warm, and the block's fee recipient (its author, EIP-3651) starts warm, so a
result carries to a block with another author only if the run touched neither author. (The fee recipient's
own bookkeeping comes after the message and is not recorded. Calls are run without fees, so the sender's
bookkeeping before the message depends on no block value either.)

Used for account permissioning (``ChainBase._is_allowed``): the permission call runs at every new head for each
sender that submits, where its inputs (a handful of slots of the roles and council contracts) rarely change.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from ..calls import marking, wrapped_opcodes_vm_class

# BLOCKHASH, COINBASE, TIMESTAMP, NUMBER, PREVRANDAO, GASLIMIT, BASEFEE, BLOBHASH, BLOBBASEFEE; GASPRICE
_CONTEXT_OPS = (0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x48, 0x49, 0x4A, 0x3A)
#: A read set larger than this is not kept (checking it would cost about what the call does).
MAX_READS = 64

# What a key names (its first item), and how it is read back on a state.
_READERS: dict[str, Callable[[Any, bytes, int], Hashable]] = {
    "storage": lambda state, address, slot: state.get_storage(address, slot),
    "balance": lambda state, address, _: state.get_balance(address),
    "nonce": lambda state, address, _: state.get_nonce(address),
    "code": lambda state, address, _: state.get_code_hash(address),  # by its hash, read as code or as hash
    "exists": lambda state, address, _: state.account_exists(address),
    "empty": lambda state, address, _: state.account_is_empty(address),
    "code_or_nonce": lambda state, address, _: state.has_code_or_nonce(address),
}


class _Recorder:
    """The reads and writes of one transaction run on a recording state, up to the end of its message."""

    def __init__(self) -> None:
        self.reads: dict[tuple[str, bytes, int], Hashable] = {}
        # What the run wrote, by (address, slot); slot -1: the account's balance, nonce or code; -2: all of it.
        self.written: set[tuple[bytes, int]] = set()
        self.active = True  # until the message has run: the fee recipient's bookkeeping after it is no input
        self.context_dependent = False

    def read(self, kind: str, address: bytes, slot: int, value: Hashable) -> None:
        if not self.active:
            return
        address = bytes(address)
        keys = ((address, slot), (address, -2)) if kind == "storage" else ((address, -1), (address, -2))
        if not any(k in self.written for k in keys):  # a value the run wrote itself is derived, not an input
            self.reads.setdefault((kind, address, slot), value)

    def wrote(self, address: bytes, slot: int) -> None:
        if self.active:
            self.written.add((bytes(address), slot))


@dataclass(frozen=True)
class ReadSet:
    """The inputs of one run: the values it read, the fork and the author it ran under."""

    reads: tuple[tuple[tuple[str, bytes, int], Hashable], ...]
    vm_class: Any
    author: bytes

    def addresses(self) -> set[bytes]:
        return {address for (_kind, address, _slot), _value in self.reads}

    def holds(self, state: Any, vm_class: Any, author: bytes) -> bool:
        """Whether the run would read the same on ``state`` (of a block run by ``vm_class``, authored by
        ``author``): same fork, every value equal, and the authors' warm addresses not in its way."""
        if vm_class is not self.vm_class:
            return False
        if author != self.author and ({author, self.author} & self.addresses()):
            return False
        return all(
            _READERS[kind](state, address, slot) == value for (kind, address, slot), value in self.reads
        )


def recorded(state: Any) -> ReadSet | None:
    """The read set of the run just made on ``state`` (of a ``recording_vm_class``), or None if its outcome
    depends on the block (it ran an instruction reading it) or it read too much to check."""
    recorder: _Recorder | None = getattr(state, "_recorder", None)
    if recorder is None or recorder.context_dependent or len(recorder.reads) > MAX_READS:
        return None
    return ReadSet(tuple(recorder.reads.items()), state._recorded_vm_class, bytes(state.coinbase))


def _slot(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    return int(args[0] if args else kwargs["slot"])


def _reads_context(computation: Any) -> None:
    recorder = getattr(computation.state, "_recorder", None)
    if recorder is not None:
        recorder.context_dependent = True


def recording_vm_class(vm_class: Any) -> Any:
    """``vm_class`` whose state notes what each run's message read (``recorded``): a configured copy."""
    flagged = wrapped_opcodes_vm_class(vm_class, "Context", _CONTEXT_OPS, marking(_reads_context))
    state_class = flagged.get_state_class()
    executor_class = state_class.transaction_executor_class

    class RecordingExecutor(executor_class):  # type: ignore[misc,valid-type]
        def __call__(self, transaction: Any) -> Any:
            self.vm_state._recorder = _Recorder()
            return super().__call__(transaction)

        def build_computation(self, message: Any, transaction: Any) -> Any:
            try:
                return super().build_computation(message, transaction)
            finally:
                self.vm_state._recorder.active = False

    code_hash = state_class.get_code_hash

    def reader(kind: str, name: str) -> Any:
        original = getattr(state_class, name)

        def read(self: Any, address: bytes, *args: Any, **kwargs: Any) -> Any:
            value = original(self, address, *args, **kwargs)
            recorder = self._recorder
            if recorder is not None:
                # Code by its hash: a read set holds no contract's bytes (thousands of senders keep one each).
                noted = code_hash(self, address) if name == "get_code" else value
                recorder.read(kind, address, _slot(args, kwargs) if kind == "storage" else -1, noted)
            return value

        return read

    def writer(name: str, scope: int | None) -> Any:
        """``scope``: -1 (an account field), -2 (the whole account), None (the slot it names)."""
        original = getattr(state_class, name)

        def write(self: Any, address: bytes, *args: Any, **kwargs: Any) -> Any:
            recorder = self._recorder
            if recorder is not None:
                recorder.wrote(address, _slot(args, kwargs) if scope is None else scope)
            return original(self, address, *args, **kwargs)

        return write

    methods: dict[str, Any] = {
        "_recorder": None,
        "_recorded_vm_class": vm_class,
        "transaction_executor_class": RecordingExecutor,
        "get_storage": reader("storage", "get_storage"),
        "get_balance": reader("balance", "get_balance"),
        "get_nonce": reader("nonce", "get_nonce"),
        "get_code": reader("code", "get_code"),
        "get_code_hash": reader("code", "get_code_hash"),
        "account_exists": reader("exists", "account_exists"),
        "account_is_empty": reader("empty", "account_is_empty"),
        "has_code_or_nonce": reader("code_or_nonce", "has_code_or_nonce"),
        "set_storage": writer("set_storage", None),
        "set_balance": writer("set_balance", -1),
        "set_nonce": writer("set_nonce", -1),
        "increment_nonce": writer("increment_nonce", -1),
        "set_code": writer("set_code", -1),
        "delete_code": writer("delete_code", -1),
        "delete_storage": writer("delete_storage", -2),
        "delete_account": writer("delete_account", -2),
    }
    recording_state = type(f"Recording{state_class.__name__}", (state_class,), methods)
    recording = flagged.configure(__name__=f"Recording{vm_class.__name__}", _state_class=recording_state)
    return recording
