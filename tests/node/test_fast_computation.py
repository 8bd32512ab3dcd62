"""The node's computation (``vms.fast_computation``: jump destinations analysed once a code, memory accesses
within paid-for memory answered at once) against stock py-evm's, on generated code: same gas, output, error
and memory effects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth.vm.opcode_values import (
    CALLDATACOPY,
    JUMP,
    JUMPDEST,
    MLOAD,
    MSIZE,
    MSTORE,
    MSTORE8,
    POP,
    PUSH1,
    PUSH32,
    RETURN,
    STOP,
)
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamchain.node import load_genesis, make_genesis
from pamchain.node.chain import Chain, base, vms
from pamchain.node.errors import ExecutionFailed
from pamchain.node.records import CallRequest
from pamchain.node.storage import open_store

from .conftest import CHAIN_ID, ETHER

GAS = 3_000_000
INVALID_JUMP = "invalid jump destination"  # geth's words (py-evm: an invalid instruction)


def _push(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return bytes([PUSH1 + len(raw) - 1]) + raw


@pytest.fixture(scope="module")
def chains(users: list[LocalAccount]) -> Iterator[tuple[Chain, Chain]]:
    genesis = load_genesis(make_genesis([users[0].address], CHAIN_ID, {users[0].address: 1000 * ETHER}))
    fast = Chain(genesis, open_store(None))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "with_fast_tries", lambda vm_class: vm_class)
        plain = Chain(genesis, open_store(None))
    assert fast._vm_classes["prague"].get_state_class().computation_class.extend_memory is not (
        plain._vm_classes["prague"].get_state_class().computation_class.extend_memory
    )
    yield fast, plain
    for chain in (fast, plain):
        chain.store.close()


def _run(chain: Chain, code: bytes, calldata_size: int = 0) -> tuple[Any, ...]:
    """Run ``code`` as init code (a create call: no account needed): what a caller could tell apart."""
    request = CallRequest(sender=b"\x11" * 20, to=None, data=code + b"\x42" * calldata_size)
    header = chain._evm_header(chain.head_record())
    try:
        computation = chain._execute(request, header, GAS)
    except ExecutionFailed as exc:
        return ("failed", str(exc))
    return (computation.get_gas_used(), bytes(computation.output))


# Offsets from small to where memory gas passes the block's gas (out of gas), sizes including 0.
offsets = st.one_of(st.integers(0, 4096), st.integers(0, 2**20), st.just(2**256 - 1))
sizes = st.one_of(st.just(0), st.integers(1, 256), st.integers(1, 2**16))
memory_op = st.one_of(
    st.tuples(st.just("mstore"), offsets),
    st.tuples(st.just("mstore8"), offsets),
    st.tuples(st.just("mload"), offsets),
    st.tuples(st.just("copy"), offsets, sizes),
    st.tuples(st.just("msize")),
)


def _assemble(ops: list[tuple[Any, ...]], ret: tuple[int, int]) -> bytes:
    code = b""
    for op in ops:
        if op[0] == "mstore":
            code += _push(0xAB) + _push(op[1]) + bytes([MSTORE])
        elif op[0] == "mstore8":
            code += _push(0xCD) + _push(op[1]) + bytes([MSTORE8])
        elif op[0] == "mload":
            code += _push(op[1]) + bytes([MLOAD, POP])
        elif op[0] == "copy":
            code += _push(op[2]) + _push(0) + _push(op[1]) + bytes([CALLDATACOPY])
        else:
            code += bytes([MSIZE, POP])
    return code + _push(ret[1]) + _push(ret[0]) + bytes([RETURN])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(memory_op, max_size=12),
    ret=st.tuples(st.integers(0, 4096), st.one_of(st.just(0), st.integers(1, 512))),
)
def test_memory__generated_accesses__same_gas_and_output_as_py_evm(
    chains: tuple[Chain, Chain], ops: list[tuple[Any, ...]], ret: tuple[int, int]
) -> None:
    fast, plain = chains
    code = _assemble(ops, ret)
    assert _run(fast, code, 64) == _run(plain, code, 64)


def test_jumps__destination_inside_push_data__refused_every_time(chains: tuple[Chain, Chain]) -> None:
    """A JUMPDEST byte that is PUSH data is no destination; the shared analysis must say so on every run,
    whichever position was asked first."""
    fast, plain = chains
    # 0: PUSH1 4, 2: JUMP, 3: PUSH1 0x5b (a JUMPDEST byte as data, at 4), 5: JUMPDEST ...
    into_data = bytes([PUSH1, 4, JUMP, PUSH1, JUMPDEST, JUMPDEST, *_push(1), *_push(0), RETURN])
    to_real = bytes([PUSH1, 5, JUMP, PUSH1, JUMPDEST, JUMPDEST, *_push(1), *_push(0), RETURN])
    for code in (to_real, into_data, to_real, into_data):
        assert _run(fast, code) == _run(plain, code)
    assert _run(fast, into_data) == ("failed", INVALID_JUMP)
    assert _run(fast, to_real)[1] == b"\x00"
    # Position 4 a real JUMPDEST in one code and PUSH data in the other: each code has its own answer.
    real_at_4 = bytes([PUSH1, 4, JUMP, STOP, JUMPDEST, *_push(1), *_push(0), RETURN])
    for code in (real_at_4, into_data, real_at_4, into_data):
        assert _run(fast, code) == _run(plain, code)
    assert _run(fast, real_at_4)[1] == b"\x00" and _run(fast, into_data) == ("failed", INVALID_JUMP)
    # A PUSH32 whose data holds 32 JUMPDEST bytes (positions 4-35) shadows them all; 36 is the real one.
    for target in (36, 10, 35, 4, 36):
        code = bytes(
            [PUSH1, target, JUMP, PUSH32, *([JUMPDEST] * 32), JUMPDEST, *_push(0), *_push(0), RETURN]
        )
        assert (_run(fast, code) == ("failed", INVALID_JUMP)) is (target != 36), target
        assert _run(fast, code) == _run(plain, code), target


def test_jumps__shared_table__bounded(chains: tuple[Chain, Chain]) -> None:
    fast, _plain = chains
    for n in range(vms._JUMP_POSITIONS_MAX + 10):
        _run(fast, _push(n) + bytes([POP, *_push(0), *_push(0), RETURN]))
    assert len(vms._JUMP_POSITIONS) <= vms._JUMP_POSITIONS_MAX
