"""Budgets for user calls (``eth_call``, ``eth_estimateGas``, ``eth_createAccessList``): a gas cap and a deadline.

Like geth's ``--rpc.gascap`` and ``--rpc.evmtimeout``: a call never gets more gas than the cap (more is
silently capped, as geth does), and a call still running at its deadline is aborted with geth's message,
``execution aborted (timeout = 5s)``. The deadline is checked on every jump and every call or create, so a
loop cannot run past it; the check is a thread-local read, so budgets of calls on different threads never
mix. Part of the chain layer: only ``chain.py`` uses it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ExecutionTimeout

DEFAULT_GAS_CAP = 50_000_000  # geth's --rpc.gascap
DEFAULT_EVM_TIMEOUT = 5.0  # seconds, geth's --rpc.evmtimeout

# JUMP, JUMPI (every loop passes one), CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2.
_CHECKED_OPS = frozenset({0x56, 0x57, 0xF1, 0xF2, 0xF4, 0xFA, 0xF0, 0xF5})


@dataclass(frozen=True)
class CallBudget:
    """What one user call may spend: ``gas_cap`` (0: none) and a monotonic ``deadline`` (None: none)."""

    gas_cap: int = DEFAULT_GAS_CAP
    deadline: float | None = None
    timeout: float = DEFAULT_EVM_TIMEOUT  # for the error message

    @classmethod
    def starting_now(cls, gas_cap: int, timeout: float) -> CallBudget:
        """A budget whose clock starts now (so time spent waiting for a worker counts, as in geth)."""
        return cls(gas_cap, time.monotonic() + timeout if timeout > 0 else None, timeout)

    def gas(self, requested: int) -> int:
        return min(requested, self.gas_cap) if self.gas_cap > 0 else requested

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ExecutionTimeout(self.timeout)


class _Active(threading.local):
    budget: CallBudget | None = None


_active = _Active()


@contextlib.contextmanager
def budget_scope(budget: CallBudget | None) -> Iterator[None]:
    """Make ``budget`` the one this thread's opcodes check, for the duration of a ``with``."""
    previous = _active.budget
    _active.budget = budget
    try:
        if budget is not None:
            budget.check()  # it may have run out while the call waited for a worker
        yield
    finally:
        _active.budget = previous


def _checked(fn: Any) -> Any:
    def opcode(computation: Any) -> Any:
        budget = _active.budget
        if budget is not None and budget.deadline is not None and time.monotonic() > budget.deadline:
            # Not a VMError: py-evm lets it through every frame, and the call's state is thrown away.
            raise ExecutionTimeout(budget.timeout)
        return fn(computation=computation)

    opcode.mnemonic = getattr(fn, "mnemonic", "?")  # type: ignore[attr-defined]
    return opcode


def deadline_vm_class(vm_class: Any) -> Any:
    """``vm_class`` whose loops, calls and creates check this thread's budget (a configured copy)."""
    return wrapped_opcodes_vm_class(vm_class, "Timed", _CHECKED_OPS, _checked)


def marking(mark: Callable[[Any], None]) -> Callable[[Any], Any]:
    """A ``wrap`` for ``wrapped_opcodes_vm_class``: the opcode calls ``mark(computation)``, then runs."""

    def wrap(fn: Any) -> Any:
        def opcode(computation: Any) -> Any:
            mark(computation)
            return fn(computation=computation)

        opcode.mnemonic = getattr(fn, "mnemonic", "")  # type: ignore[attr-defined]
        return opcode

    return wrap


def wrapped_opcodes_vm_class(
    vm_class: Any, label: str, ops: Iterable[int], wrap: Callable[[Any], Any]
) -> Any:
    """A configured copy of ``vm_class`` whose opcodes ``ops`` are ``wrap(original)`` (``label`` names it)."""
    state_class = vm_class.get_state_class()
    computation_class = state_class.computation_class
    opcodes = dict(computation_class.opcodes)
    for op in ops:
        if op in opcodes:
            opcodes[op] = wrap(opcodes[op])
    wrapped = computation_class.configure(__name__=f"{label}{computation_class.__name__}", opcodes=opcodes)
    return vm_class.configure(
        __name__=f"{label}{vm_class.__name__}", _state_class=state_class.configure(computation_class=wrapped)
    )
