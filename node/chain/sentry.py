"""The least gas left at a top-level SSTORE during one run (``eth_estimateGas``'s first run, on this thread).

EIP-2200 fails an SSTORE that starts with 2,300 gas or less: a transaction whose last writes come just before a
cheap epilogue (a log, a return) needs a little more than the gas it used. Knowing the least gas any top-level
SSTORE started with, the estimate computes that limit from one run instead of searching for it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ..calls import wrapped_opcodes_vm_class

_SSTORE = 0x55


class _Watch(threading.local):
    active: bool = False
    least: int | None = None


_watch = _Watch()


def least() -> int | None:
    """The least gas left at a top-level SSTORE in this thread's last ``watching`` run (None: no SSTORE)."""
    return _watch.least


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Note the gas left at top-level SSTOREs while the ``with`` body runs (``least`` afterwards)."""
    _watch.active, _watch.least = True, None
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


def watching_vm_class(vm_class: Any) -> Any:
    """``vm_class`` whose SSTORE notes the gas left while ``watching`` (a configured copy)."""
    return wrapped_opcodes_vm_class(vm_class, "Watched", (_SSTORE,), _noting)
