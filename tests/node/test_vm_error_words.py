"""A call that fails in the VM is answered in geth's words (``core/vm/errors.go``), over HTTP: clients and
tools match on them. py-evm's own names (``InvalidInstruction: Jump resulted in ...``) never reach a client."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

PUSH1, JUMP, POP, INVALID, SSTORE = 0x60, 0x56, 0x50, 0xFE, 0x55


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (bytes([PUSH1, 3, JUMP, PUSH1, 0x5B]), "invalid jump destination"),  # onto PUSH data
        (bytes([PUSH1, 9, JUMP]), "invalid jump destination"),  # past the code
        (bytes([POP]), "stack underflow"),
        (bytes([INVALID]), "invalid opcode"),
        (bytes([PUSH1, 1, PUSH1, 0, SSTORE]), "out of gas"),  # 20,000 for the SSTORE, ~7,000 left
    ],
)
def test_call__vm_error__geth_words(w3: Web3, users: list[LocalAccount], code: bytes, words: str) -> None:
    call: dict[str, Any] = {
        "from": users[0].address,
        "data": "0x" + code.hex(),
        "gas": hex(60_000),
    }  # creation: 53,000 + data
    reply = dict(w3.provider.make_request("eth_call", [call, "latest"]))  # type: ignore[arg-type]
    assert reply["error"] == {"code": -32000, "message": words}, reply


def test_call__gas_below_intrinsic__geth_words(w3: Web3, users: list[LocalAccount]) -> None:
    """A creation call (53,000 + calldata) with 30,000 gas: geth's ErrIntrinsicGas with both figures."""
    call = {"from": users[0].address, "data": "0x" + bytes([POP]).hex(), "gas": hex(30_000)}
    reply = dict(w3.provider.make_request("eth_call", [call, "latest"]))  # type: ignore[arg-type]
    assert reply["error"] == {"code": -32000, "message": "intrinsic gas too low: have 30000, want 53018"}, (
        reply
    )
