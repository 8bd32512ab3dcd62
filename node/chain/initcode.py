"""EIP-3860's initcode rules as the validity rules geth enforces (Shanghai on).

A contract creation pays 2 gas per 32-byte word of its initcode, and its initcode may be at most 49,152
bytes. geth counts the word cost in the transaction's intrinsic gas and refuses, from the pool, in a block and
in a call, a creation whose limit is below it ("intrinsic gas too low") or whose initcode is too long ("max
initcode size exceeded"). py-evm charges the words only once execution starts and turns a too-long initcode
into an out-of-gas failure, so such a creation was admitted, included and its sender charged its whole limit.
``with_initcode_rules`` adds both checks to a VM's transaction validation, which building, importing and calls
go through; the pool, calls and simulations ask ``intrinsic_gas`` and ``initcode_error`` directly.
"""

from __future__ import annotations

from typing import Any

from eth.abc import SignedTransactionAPI
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.constants import INITCODE_WORD_COST, MAX_INITCODE_SIZE
from eth_utils import ValidationError


def has_initcode_rules(vm_class: Any) -> bool:
    """True from Shanghai on (later forks derive from Shanghai's VM, as py-evm's do)."""
    return issubclass(vm_class, ShanghaiVM)


def _words_gas(tx: Any) -> int:
    return INITCODE_WORD_COST * ((len(tx.data) + 31) // 32) if not tx.to else 0


def intrinsic_gas(vm_class: Any, tx: Any) -> int:
    """``tx``'s intrinsic gas as geth counts it: py-evm's, plus EIP-3860's initcode words for a creation."""
    base: int = tx.intrinsic_gas
    return base + _words_gas(tx) if has_initcode_rules(vm_class) else base


def intrinsic_error(gas: int, want: int) -> str:
    return f"intrinsic gas too low: have {gas}, want {want}"  # geth's state transition's ErrIntrinsicGas


def initcode_error(vm_class: Any, tx: Any, *, pool: bool = False) -> str | None:
    """geth's refusal of a creation whose initcode is over EIP-3860's limit (its pool's words or its state
    transition's, which differ by a comma), or None."""
    if tx.to or not has_initcode_rules(vm_class) or len(tx.data) <= MAX_INITCODE_SIZE:
        return None
    return (
        f"max initcode size exceeded: code size {len(tx.data)}{',' if pool else ''} limit {MAX_INITCODE_SIZE}"
    )


def with_initcode_rules(vm_class: Any) -> Any:
    """``vm_class`` whose state refuses a creation over the initcode limit or below its intrinsic gas."""
    if not has_initcode_rules(vm_class):
        return vm_class
    state_class = vm_class.get_state_class()
    validate = state_class.validate_transaction

    def validate_transaction(self: Any, transaction: SignedTransactionAPI) -> None:
        validate(self, transaction)  # nonce and funds first, as geth's state transition checks them
        if transaction.to:
            return
        want = transaction.intrinsic_gas + _words_gas(transaction)
        if transaction.gas < want:
            raise ValidationError(intrinsic_error(transaction.gas, want))
        refusal = initcode_error(vm_class, transaction)
        if refusal:
            raise ValidationError(refusal)

    state = state_class.configure(__name__=state_class.__name__, validate_transaction=validate_transaction)
    return vm_class.configure(__name__=vm_class.__name__, _state_class=state)
