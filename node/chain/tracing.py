# Over 500 lines on purpose: the three geth tracers share one set of VM hooks and are kept together.
"""Transaction tracers for ``debug_trace*`` (geth's struct logger, ``callTracer`` and ``prestateTracer``).

py-evm has no tracer hooks, so a traced VM class is a configured copy whose computation class wraps every
opcode (struct logs, the kind of the next call frame, touched accounts and slots) and ``apply_message`` /
``apply_create_message`` (call frames). The hooks report to a ``TraceHub`` whose current tracer is swapped per
transaction, so one replay of a block can trace one transaction or all of them. Part of the chain layer (it
handles py-evm computations); tracers hand out geth-shaped JSON documents, which the RPC layer passes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth.exceptions import Halt, Revert, VMError
from eth_typing import Address

from ..errors import NodeError

CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2 = 0xF1, 0xF2, 0xF4, 0xFA, 0xF0, 0xF5
SLOAD, SSTORE, SELFDESTRUCT = 0x54, 0x55, 0xFF
_FRAME_OPS = {
    CALL: "CALL",
    CALLCODE: "CALLCODE",
    DELEGATECALL: "DELEGATECALL",
    STATICCALL: "STATICCALL",
    CREATE: "CREATE",
    CREATE2: "CREATE2",
}
# BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, SELFDESTRUCT: the account they name is touched
_ADDRESS_OPS = frozenset({0x31, 0x3B, 0x3C, 0x3F, SELFDESTRUCT})
_LOG_OPS = frozenset(range(0xA0, 0xA5))
_GETH_NAMES = {"SHA3": "KECCAK256"}
_MASK160 = 2**160 - 1


class TracerError(NodeError, ValueError):
    """A trace request names a tracer or an option this node does not have."""


def word(value: int | bytes) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _slot(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


_GETH_WORDS = {
    "OutOfGas": "out of gas",
    "InsufficientStack": "stack underflow",
    "FullStack": "stack limit reached 1024",
    "InvalidJumpDestination": "invalid jump destination",
    "InvalidInstruction": "invalid opcode",
    "StackDepthLimit": "max call depth exceeded",
    "InsufficientFunds": "insufficient balance for transfer",
    "WriteProtection": "write protection",
    "ContractCreationCollision": "contract address collision",
    "ReservedBytesInCode": "invalid code: must not begin with 0xef",
    "OutOfBoundsRead": "return data out of bounds",
}


def geth_words(error: BaseException) -> str | None:
    """geth's wording of a VM error py-evm raises (``core/vm/errors.go``), or None for one geth has no word
    for. py-evm reports a jump onto a non-JUMPDEST as an invalid instruction; geth as an invalid jump."""
    if isinstance(error, Revert):
        return "execution reverted"
    name = type(error).__name__
    if name == "InvalidInstruction" and "jump" in str(error).lower():
        return "invalid jump destination"
    return _GETH_WORDS.get(name)


def error_text(error: BaseException) -> str:
    """geth's wording of a failed frame."""
    return geth_words(error) or str(error) or type(error).__name__


def revert_reason(data: bytes) -> str | None:
    if len(data) >= 68 and data[:4] == bytes.fromhex("08c379a0"):
        length = int.from_bytes(data[36:68], "big")
        return data[68 : 68 + length].decode("utf-8", "replace")
    return None


def _pc(op: int, code: Any, size: int) -> int:
    """The position of the opcode running: py-evm has already moved past it, except for the STOP it makes up
    when execution runs off the end of the code (geth reports that one at ``len(code)``)."""
    pc = int(code.program_counter)
    if op == 0 and pc == size and not (code[size - 1] == 0 and code.is_valid_opcode(size - 1)):
        return pc
    return pc - 1


class Tracer:
    """Hooks a tracer may implement; every default does nothing."""

    def before_tx(self, state: Any, sender: bytes, to: bytes | None, coinbase: bytes) -> None: ...

    def opcode(self, op: int, name: str, computation: Any, run: Callable[[], None]) -> None:
        run()

    def enter(self, kind: str, message: Any, parent: Any, state: Any) -> None: ...

    def exit(self, computation: Any | None, error: BaseException | None) -> None: ...

    def result(self, state: Any, computation: Any, gas_used: int, tx: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class StructLogConfig:
    disable_stack: bool = False
    disable_storage: bool = False
    enable_memory: bool = False
    enable_return_data: bool = False
    limit: int = 0  # at most this many entries (0: no limit), as geth's ``limit``


class StructLogger(Tracer):
    """geth's default tracer: one entry per executed opcode (``structLogs``)."""

    def __init__(self, config: StructLogConfig) -> None:
        self.config = config
        self.logs: list[dict[str, Any]] = []
        self.storage: dict[bytes, dict[str, str]] = {}
        self._child_gas: list[int | None] = []  # per open opcode: gas left when its child frame started

    def opcode(self, op: int, name: str, computation: Any, run: Callable[[], None]) -> None:
        cfg = self.config
        if cfg.limit and len(self.logs) >= cfg.limit:
            run()
            return
        code = computation.code
        size = len(code)
        # geth does not run the interpreter for code-less accounts: a plain transfer has no entries
        if size == 0:
            run()
            return
        gas = computation.get_gas_remaining()
        entry: dict[str, Any] = {
            "pc": _pc(op, code, size),
            "op": name,
            "gas": gas,
            "gasCost": 0,
            "depth": computation.msg.depth + 1,
        }
        stack = computation._stack.values
        if not cfg.disable_stack:
            entry["stack"] = [hex(word(v)) for v in stack]
        if cfg.enable_return_data and computation.return_data:
            entry["returnData"] = _hex(bytes(computation.return_data))
        if cfg.enable_memory:
            memory = bytes(computation._memory._bytes)
            if memory:
                entry["memory"] = [_hex(memory[i : i + 32]) for i in range(0, len(memory), 32)]
        if not cfg.disable_storage and op in (SLOAD, SSTORE) and stack:
            here = self.storage.setdefault(bytes(computation.msg.storage_address), {})
            key = word(stack[-1])
            if op == SLOAD:
                value = computation.state.get_storage(computation.msg.storage_address, key)
            else:
                value = word(stack[-2]) if len(stack) >= 2 else 0
            here[_slot(key)] = _slot(value)
            entry["storage"] = dict(here)
        self.logs.append(entry)
        self._child_gas.append(None)
        try:
            run()
        except Halt:
            raise
        except VMError as exc:
            entry["error"] = error_text(exc)
            raise
        finally:
            child_start = self._child_gas.pop()
            after = child_start if child_start is not None else computation.get_gas_remaining()
            entry["gasCost"] = max(gas - after, 0)

    def enter(self, kind: str, message: Any, parent: Any, state: Any) -> None:
        if parent is not None and self._child_gas and self._child_gas[-1] is None:
            self._child_gas[-1] = parent.get_gas_remaining()  # geth counts the gas handed to the callee

    def result(self, state: Any, computation: Any, gas_used: int, tx: Any) -> Any:
        return {
            "gas": gas_used,
            "failed": bool(computation.is_error),
            "returnValue": _hex(bytes(computation.output)),
            "structLogs": self.logs,
        }


class CallTracer(Tracer):
    """geth's ``callTracer``: the tree of call frames (``onlyTopCall``, ``withLog``)."""

    def __init__(self, only_top_call: bool = False, with_log: bool = False) -> None:
        self.only_top_call = only_top_call
        self.with_log = with_log
        self.stack: list[dict[str, Any]] = []
        self.root: dict[str, Any] | None = None

    def opcode(self, op: int, name: str, computation: Any, run: Callable[[], None]) -> None:
        if op not in _LOG_OPS or not self.with_log or not self.stack:
            run()
            return
        before = len(computation._log_entries)
        run()
        frame = self.stack[-1]
        for _seq, address, topics, data in computation._log_entries[before:]:
            frame.setdefault("logs", []).append(
                {
                    "address": _hex(bytes(address)),
                    "topics": [_slot(t) if isinstance(t, int) else _hex(bytes(t)) for t in topics],
                    "data": _hex(bytes(data)),
                    "position": hex(len(frame.get("calls", []))),
                }
            )

    def enter(self, kind: str, message: Any, parent: Any, state: Any) -> None:
        if self.only_top_call and self.stack:
            self.stack.append({"_skip": True})
            return
        if kind in ("DELEGATECALL", "CALLCODE") and parent is not None:
            sender, to = parent.msg.storage_address, message.code_address
        else:
            sender, to = message.sender, message.storage_address
        frame: dict[str, Any] = {
            "type": kind,
            "from": _hex(bytes(sender)),
            "gas": hex(message.gas),
            "gasUsed": "0x0",
            "to": _hex(bytes(to)),
            "input": _hex(bytes(message.code if message.is_create else message.data)),
        }
        if kind not in ("DELEGATECALL", "STATICCALL"):
            frame["value"] = hex(message.value)
        self.stack.append(frame)

    def exit(self, computation: Any | None, error: BaseException | None) -> None:
        frame = self.stack.pop()
        if frame.get("_skip"):
            return
        if computation is not None:
            frame["gasUsed"] = hex(int(frame["gas"], 16) - computation.get_gas_remaining())
            if computation.output:
                frame["output"] = _hex(bytes(computation.output))
            if computation.is_error:
                frame["error"] = error_text(computation.error)
                reason = (
                    revert_reason(bytes(computation.output))
                    if isinstance(computation.error, Revert)
                    else None
                )
                if reason is not None:
                    frame["revertReason"] = reason
                frame.pop("logs", None)  # geth drops the logs of failed frames
                for child in frame.get("calls", []):
                    _drop_logs(child)
        elif error is not None:
            frame["error"] = error_text(error)
            frame["gasUsed"] = frame["gas"]
        if self.stack:
            self.stack[-1].setdefault("calls", []).append(frame)
        else:
            self.root = frame

    def result(self, state: Any, computation: Any, gas_used: int, tx: Any) -> Any:
        assert self.root is not None
        root = self.root
        root["gas"] = hex(tx.gas)
        root["gasUsed"] = hex(gas_used)
        order = (
            "from",
            "gas",
            "gasUsed",
            "to",
            "input",
            "output",
            "error",
            "revertReason",
            "calls",
            "logs",
            "value",
        )
        return {"type": root["type"], **{k: root[k] for k in order if k in root}}


def _drop_logs(frame: dict[str, Any]) -> None:
    frame.pop("logs", None)
    for child in frame.get("calls", []):
        _drop_logs(child)


class PrestateTracer(Tracer):
    """geth's ``prestateTracer``: the accounts a transaction touches as they were before it (``diffMode``: the
    accounts it changed, before and after). Storage pre-values come from the state as of the transaction's
    start (py-evm keeps it for EIP-2200), balances and nonces from the first touch, which precedes any change."""

    def __init__(
        self, diff_mode: bool = False, disable_code: bool = False, disable_storage: bool = False
    ) -> None:
        self.diff_mode = diff_mode
        self.disable_code = disable_code
        self.disable_storage = disable_storage
        self.pre: dict[bytes, dict[str, Any]] = {}
        self.slots: dict[bytes, set[int]] = {}
        self.state: Any = None

    def _touch(self, state: Any, address: bytes) -> None:
        if address in self.pre:
            return
        addr = Address(address)
        self.pre[address] = {
            "balance": state.get_balance(addr),
            "nonce": state.get_nonce(addr),
            "code": state.get_code(addr),
            "storage": {},
        }

    def before_tx(self, state: Any, sender: bytes, to: bytes | None, coinbase: bytes) -> None:
        self.state = state
        for address in (sender, to, coinbase):
            if address is not None:
                self._touch(state, address)

    def opcode(self, op: int, name: str, computation: Any, run: Callable[[], None]) -> None:
        stack = computation._stack.values
        if stack:
            if op in (SLOAD, SSTORE):
                here = bytes(computation.msg.storage_address)
                self._touch(computation.state, here)
                key = word(stack[-1])
                if key not in self.slots.setdefault(here, set()):
                    self.slots[here].add(key)
                    original = computation.state.get_storage(Address(here), key, from_journal=False)
                    self.pre[here]["storage"][key] = original
            elif op in _ADDRESS_OPS:
                self._touch(computation.state, (word(stack[-1]) & _MASK160).to_bytes(20, "big"))
            elif op in (CALL, CALLCODE, DELEGATECALL, STATICCALL) and len(stack) >= 2:
                self._touch(computation.state, (word(stack[-2]) & _MASK160).to_bytes(20, "big"))
        run()

    def enter(self, kind: str, message: Any, parent: Any, state: Any) -> None:
        self._touch(state, bytes(message.storage_address))

    def _now(self, address: bytes) -> dict[str, Any]:
        addr = Address(address)
        state = self.state
        return {
            "balance": state.get_balance(addr),
            "nonce": state.get_nonce(addr),
            "code": state.get_code(addr),
            "storage": {k: state.get_storage(addr, k) for k in self.slots.get(address, ())},
        }

    def _json(self, account: dict[str, Any], keep_zero_slots: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"balance": hex(account["balance"])}
        if account["nonce"]:
            out["nonce"] = account["nonce"]
        if account["code"] and not self.disable_code:
            out["code"] = _hex(account["code"])
        storage = {_slot(k): _slot(v) for k, v in sorted(account["storage"].items()) if keep_zero_slots or v}
        if storage and not self.disable_storage:
            out["storage"] = storage
        return out

    def result(self, state: Any, computation: Any, gas_used: int, tx: Any) -> Any:
        if not self.diff_mode:
            return {_hex(a): self._json(acct) for a, acct in sorted(self.pre.items())}
        pre: dict[str, Any] = {}
        post: dict[str, Any] = {}
        for address, before in sorted(self.pre.items()):
            after = self._now(address)
            changed_slots = {
                k for k in after["storage"] if after["storage"][k] != before["storage"].get(k, 0)
            }
            fields = [f for f in ("balance", "nonce", "code") if after[f] != before[f]]
            if not fields and not changed_slots:
                continue
            existed = (
                before["balance"] or before["nonce"] or before["code"] or any(before["storage"].values())
            )
            if existed:
                shown = dict(before, storage={k: before["storage"][k] for k in changed_slots})
                pre[_hex(address)] = self._json(shown)
            entry: dict[str, Any] = {}
            if "balance" in fields:
                entry["balance"] = hex(after["balance"])
            if "nonce" in fields:
                entry["nonce"] = after["nonce"]
            if "code" in fields and after["code"] and not self.disable_code:
                entry["code"] = _hex(after["code"])
            storage = {
                _slot(k): _slot(after["storage"][k]) for k in sorted(changed_slots) if after["storage"][k]
            }
            if storage and not self.disable_storage:
                entry["storage"] = storage
            post[_hex(address)] = entry
        return {"pre": pre, "post": post}


class TraceHub:
    """Where the traced VM's hooks report: ``current`` is the tracer of the transaction being replayed."""

    def __init__(self) -> None:
        self.current: Tracer | None = None
        self.next_kind: str | None = None
        self.creating: Any = None  # the message apply_create_message is running (its inner apply_message)

    def vm_class(self, vm_class: Any) -> Any:
        """``vm_class`` whose computations report to this hub (a configured copy, never mutated)."""
        state_class = vm_class.get_state_class()
        base = state_class.computation_class
        hub = self
        opcodes = {op: self._wrap(op, fn) for op, fn in base.opcodes.items()}
        plain_message = base.apply_message.__func__
        plain_create = base.apply_create_message.__func__

        def framed(cls: Any, original: Any, state: Any, message: Any, context: Any, parent: Any) -> Any:
            tracer = hub.current
            kind = hub.next_kind or ("CREATE" if message.is_create else "CALL")
            hub.next_kind = None
            if tracer is None:
                return original(cls, state, message, context, parent_computation=parent)
            tracer.enter(kind, message, parent, state)
            try:
                computation = original(cls, state, message, context, parent_computation=parent)
            except Exception as exc:
                tracer.exit(None, exc)
                raise
            tracer.exit(computation, None)
            return computation

        def apply_message(
            cls: Any, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None
        ) -> Any:
            # the create's own inner call: one frame, opened by apply_create_message
            if message is hub.creating:
                hub.creating = None
                return plain_message(
                    cls, state, message, transaction_context, parent_computation=parent_computation
                )
            return framed(cls, plain_message, state, message, transaction_context, parent_computation)

        def apply_create_message(
            cls: Any, state: Any, message: Any, transaction_context: Any, parent_computation: Any = None
        ) -> Any:
            def run(c: Any, s: Any, m: Any, t: Any, parent_computation: Any = None) -> Any:
                hub.creating = m
                try:
                    return plain_create(c, s, m, t, parent_computation=parent_computation)
                finally:
                    hub.creating = None

            return framed(cls, run, state, message, transaction_context, parent_computation)

        traced = base.configure(
            __name__=f"Traced{base.__name__}",
            opcodes=opcodes,
            apply_message=classmethod(apply_message),
            apply_create_message=classmethod(apply_create_message),
        )
        return vm_class.configure(
            __name__=f"Traced{vm_class.__name__}",
            _state_class=state_class.configure(computation_class=traced),
        )

    def _wrap(self, op: int, fn: Any) -> Any:
        inner = getattr(fn, "__wrapped__", None)
        mnemonic = str(getattr(fn, "mnemonic", None) or getattr(inner, "mnemonic", None) or hex(op))
        name = _GETH_NAMES.get(mnemonic, mnemonic)
        kind = _FRAME_OPS.get(op)
        hub = self

        def traced(computation: Any) -> Any:
            tracer = hub.current
            if tracer is None:
                return fn(computation=computation)

            def run() -> None:
                hub.next_kind = kind
                try:
                    fn(computation=computation)
                finally:
                    hub.next_kind = None

            tracer.opcode(op, name, computation, run)
            return None

        traced.mnemonic = mnemonic  # type: ignore[attr-defined]
        return traced


def replay(
    calls: Any,
    header: Any,
    parent: Any,
    txs: Sequence[Any],
    make: Callable[[], Tracer],
    only: int | None = None,
) -> list[Any]:
    """Re-execute ``header``'s block on ``parent``'s state (system calls first, as on import) with ``calls``'s
    VMs (a ``Chain`` or a ``CallReader``; writes go to a throwaway overlay on a reader); trace every transaction,
    or only the one at index ``only`` (those before it run untraced)."""
    hub = TraceHub()
    vm_class = hub.vm_class(calls._timed(calls.vm_class_for(header.block_number, header.timestamp)))
    vm = calls._vm(header, vm_class)
    context = vm.create_execution_context(header, vm.previous_hashes, vm.chain_context)
    vm._state = vm.get_state_class()(vm.chaindb.db, context, parent.state_root)
    vm.block_preprocessing(vm.get_block())
    running = header.copy(gas_used=0)
    out: list[Any] = []
    for index, tx in enumerate(txs):
        if only is not None and index > only:
            break
        tracer = make() if only is None or index == only else None
        if tracer is not None:
            tracer.before_tx(vm.state, bytes(tx.sender), bytes(tx.to) or None, bytes(context.coinbase))
        hub.current = tracer
        try:
            receipt, computation = vm.apply_transaction(running, tx)
        finally:
            hub.current = None
        gas_used = receipt.gas_used - running.gas_used
        running = vm.add_receipt_to_header(running, receipt)
        if tracer is not None:
            out.append(tracer.result(vm.state, computation, gas_used, tx))
    return out


def make_tracer(options: dict[str, Any]) -> Callable[[], Tracer]:
    """A factory of fresh tracers (one per transaction) from ``debug_trace*``'s options object."""
    name = options.get("tracer")
    config = options.get("tracerConfig") or {}
    if not isinstance(config, dict):
        raise TracerError("tracerConfig must be an object")

    def flag(source: dict[str, Any], key: str) -> bool:
        value = source.get(key, False)
        if not isinstance(value, bool):
            raise TracerError(f"{key} must be a boolean")
        return value

    if name in (None, "", "structLogger"):
        limit = options.get("limit", 0)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise TracerError("limit must be a non-negative integer")
        struct = StructLogConfig(
            disable_stack=flag(options, "disableStack"),
            disable_storage=flag(options, "disableStorage"),
            enable_memory=flag(options, "enableMemory"),
            enable_return_data=flag(options, "enableReturnData"),
            limit=limit,
        )
        return lambda: StructLogger(struct)
    if name == "callTracer":
        only_top, with_log = flag(config, "onlyTopCall"), flag(config, "withLog")
        return lambda: CallTracer(only_top, with_log)
    if name == "prestateTracer":
        diff, no_code, no_storage = (
            flag(config, "diffMode"),
            flag(config, "disableCode"),
            flag(config, "disableStorage"),
        )
        return lambda: PrestateTracer(diff, no_code, no_storage)
    raise TracerError(
        f"tracer not found: {name!r} (this node has the struct logger, callTracer and prestateTracer)"
    )
