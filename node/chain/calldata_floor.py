"""EIP-7623's calldata floor as the validity rule geth enforces (Prague on).

A transaction pays at least 21,000 + 10 gas per calldata token (a zero byte is one token, any other byte
four), and one whose gas limit is below that floor is invalid: geth refuses it from the pool, in a block and
in a call (``ErrFloorDataGas``). py-evm only charges the floor after execution, so a limit below it was
executed and its sender charged past the limit. ``with_calldata_floor`` adds the check to a VM's transaction
validation, which building, importing and calls all go through; the pool and the estimate use
``data_floor_gas`` directly.
"""

from __future__ import annotations

from typing import Any

from eth.abc import SignedTransactionAPI
from eth.constants import GAS_TX
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.constants import STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth_utils import ValidationError

FLOOR_ERROR = "insufficient gas for floor data gas cost"  # geth's ErrFloorDataGas


def has_floor(vm_class: Any) -> bool:
    """True from Prague on (later forks derive from Prague's VM, as py-evm's do)."""
    return issubclass(vm_class, PragueVM)


def _floor(data: bytes) -> int:
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * STANDARD_TOKEN_COST
    return int(GAS_TX + TOTAL_COST_FLOOR_PER_TOKEN * tokens)


def data_floor_gas(vm_class: Any, data: bytes) -> int:
    """The least gas limit ``data`` as calldata allows under ``vm_class``'s rules (0 before Prague)."""
    return _floor(data) if has_floor(vm_class) else 0


def floor_error(gas: int, floor: int) -> str:
    return f"{FLOOR_ERROR}: gas {gas}, minimum needed {floor}"


def with_calldata_floor(vm_class: Any) -> Any:
    """``vm_class`` whose state refuses a transaction (or a call) with a gas limit below its calldata floor."""
    if not has_floor(vm_class):
        return vm_class
    state_class = vm_class.get_state_class()
    validate = state_class.validate_transaction

    def validate_transaction(self: Any, transaction: SignedTransactionAPI) -> None:
        floor = _floor(transaction.data)  # the fork is known to have it: checked once, above
        if transaction.gas < floor:
            raise ValidationError(floor_error(transaction.gas, floor))
        validate(self, transaction)

    state = state_class.configure(__name__=state_class.__name__, validate_transaction=validate_transaction)
    return vm_class.configure(__name__=vm_class.__name__, _state_class=state)
