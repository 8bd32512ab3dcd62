"""What of a run depends on its gas limit (``eth_estimateGas``'s first run, on this thread).

EIP-2200 fails an SSTORE that starts with 2,300 gas or less: a transaction whose last writes come just before a
cheap epilogue (a log, a return) needs a little more than the gas it used. Knowing the least gas any top-level
SSTORE started with, the estimate computes that limit from one run instead of searching for it.

Nothing else a run without nested calls does depends on the gas it was given, except the instructions that
read the gas left (GAS) or hand a share of it on (the CALL and CREATE families, which may fail before making
a nested call: no value to send, too deep). A run that executed none of those behaves the same under any
limit that covers what it used and keeps its SSTOREs above the sentry: the estimate then needs no second run
to confirm that limit (``gas_sensitive``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ..calls import marking, wrapped_opcodes_vm_class

_SSTORE = 0x55
# GAS; CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL
_GAS_SENSITIVE = (0x5A, 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA)


class _Watch(threading.local):
    active: bool = False
    least: int | None = None
    sensitive: bool = False


_watch = _Watch()


def least() -> int | None:
    """The least gas left at a top-level SSTORE in this thread's last ``watching`` run (None: no SSTORE)."""
    return _watch.least


def gas_sensitive() -> bool:
    """Whether this thread's last ``watching`` run executed an instruction whose effect depends on the gas
    left (GAS, the CALL and CREATE families)."""
    return _watch.sensitive


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Note the gas left at top-level SSTOREs, and any gas-sensitive instruction, while the ``with`` body runs
    (``least`` and ``gas_sensitive`` afterwards)."""
    _watch.active, _watch.least, _watch.sensitive = True, None, False
    try:
        yield
    finally:
        _watch.active = False


def _noting(fn: Any) -> Any:
    def opcode(computation: Any) -> Any:
        if _watch.active and computation.msg.depth == 0:
            left = computation.get_gas_remaining()
            if _watch.least is None or left < _watch.least:
                _watch.least = left
        return fn(computation=computation)

    opcode.mnemonic = getattr(fn, "mnemonic", "SSTORE")  # type: ignore[attr-defined]
    return opcode


def _flag(_computation: Any) -> None:
    if _watch.active:
        _watch.sensitive = True


def watching_vm_class(vm_class: Any) -> Any:
    """``vm_class`` whose SSTORE notes the gas left, and whose gas-sensitive instructions flag the run, while
    ``watching`` (a configured copy)."""
    noting = wrapped_opcodes_vm_class(vm_class, "Watched", (_SSTORE,), _noting)
    return wrapped_opcodes_vm_class(noting, "Gas", _GAS_SENSITIVE, marking(_flag))
