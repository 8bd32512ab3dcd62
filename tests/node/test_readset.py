"""A permission answer carried to a new head only where everything its call read is unchanged (chain/readset.py).

The property: whatever blocks change (the gate's slots, another contract's slots it reads through a nested
call, balances, code, the clock), ``is_allowed`` at every head equals a fresh run of the permission call there.
Then the same on a real node over HTTP with the real contracts: a suspended principal's next transaction is
refused at once, and a head that changed nothing the call reads answers without running it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vyper
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pamchain.node import contract_address, load_genesis, make_genesis, run_node
from pamchain.node.chain import Chain, readset
from pamchain.node.errors import ExecutionFailed, ExecutionReverted
from pamchain.node.genesis import PERMISSION_SELECTOR
from pamchain.node.records import CallRequest
from pamchain.node.storage import open_store
from pamchain.sdk.chain.deployer import deploy_plan
from web3 import Web3

import support.chains as chains
from support.chains import connect, deployment_genesis
from support.world import directory_id, standard_plan

from .conftest import CHAIN_ID, build_on, rpc, signed_transfer

REGISTRY = """
# pragma version ^0.4.0
flags: public(HashMap[address, uint256])

@external
def set_flag(who: address, flag: uint256):
    self.flags[who] = flag
"""

GATE = """
# pragma version ^0.4.0
interface Registry:
    def flags(who: address) -> uint256: view

flags: public(HashMap[address, uint256])
mode: public(uint256)
other: public(address)

@deploy
def __init__(registry: address):
    self.other = registry

@external
def set_flag(who: address, flag: uint256):
    self.flags[who] = flag

@external
def set_mode(mode: uint256):
    self.mode = mode

@external
def set_other(other: address):
    self.other = other

@view
@external
def is_account_allowed(who: address) -> bool:
    if self.mode == 1:
        return block.timestamp % 2 == 0 or self.flags[who] != 0
    if self.mode == 2:
        return who.balance % 2 == 1
    if self.mode == 3:
        return staticcall Registry(self.other).flags(who) != 0
    if self.mode == 4:
        return self.other.codesize > 0 and self.flags[who] != 0
    if self.mode == 5:
        assert self.flags[who] != 7, "gate: seven"
    return self.flags[who] != 0
"""


@functools.cache
def _compiled(source: str) -> tuple[list[Any], bytes]:
    out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    return out["abi"], bytes.fromhex(out["bytecode"].removeprefix("0x"))


def _fresh(chain: Chain, who: bytes) -> bool:
    """The permission call run now, bypassing every cache."""
    perms = chain.genesis.permissions
    assert perms.contract is not None
    header = chain.head
    request = CallRequest(to=perms.contract, data=PERMISSION_SELECTOR + who.rjust(32, b"\0"), gas=1_000_000)
    try:
        out = chain._call(request, header)
    except (ExecutionReverted, ExecutionFailed):
        return False
    return len(out) >= 32 and int.from_bytes(out[:32], "big") == 1


def _admin_tx(
    chain: Chain, admin: LocalAccount, nonce: int, to: bytes | None, data: bytes, value: int = 0
) -> Any:
    """``admin``'s transaction (a creation when ``to`` is None), decoded by ``chain`` for building."""
    tx: dict[str, Any] = {
        "value": value,
        "data": data,
        "gas": 2_000_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": CHAIN_ID,
    }
    if to is not None:
        tx["to"] = Web3.to_checksum_address(to)
    return chain.decode_transaction(bytes(admin.sign_transaction(tx).raw_transaction))


class _GateChain:
    """A chain whose permission contract is the gate, deployed with its registry by the allowlisted admin."""

    def __init__(self, signer: LocalAccount, admin: LocalAccount, users: list[LocalAccount]) -> None:
        self.signer, self.admin, self.users = signer, admin, users
        admin_address = bytes.fromhex(admin.address[2:])
        self.gate_address = contract_address(admin_address, 1)
        self.registry_address = contract_address(admin_address, 0)
        genesis = make_genesis(
            [signer.address],
            CHAIN_ID,
            {u.address: 1000 * 10**18 for u in [admin, *users]},
            allowlist=[admin.address],
            permission_contract=self.gate_address,
        )
        self.chain = Chain(load_genesis(genesis), open_store(None))
        self.nonce = 0
        registry_abi, registry_code = _compiled(REGISTRY)
        gate_abi, gate_code = _compiled(GATE)
        w3 = Web3()
        self.registry = w3.eth.contract(abi=registry_abi)
        self.gate = w3.eth.contract(abi=gate_abi, bytecode=gate_code)
        constructor = self.gate.constructor(Web3.to_checksum_address(self.registry_address))
        self.block(
            [
                self._tx(None, registry_code),
                self._tx(None, bytes.fromhex(constructor.data_in_transaction[2:])),
            ]
        )

    def _tx(self, to: bytes | None, data: bytes, value: int = 0) -> Any:
        self.nonce += 1
        return _admin_tx(self.chain, self.admin, self.nonce - 1, to, data, value)

    def block(self, pooled: list[Any]) -> None:
        built = build_on(self.chain, self.signer, pooled)
        assert len(built.included) == len(pooled), built.dropped

    def action(self, step: tuple[Any, ...]) -> list[Any]:
        kind, *args = step
        user = lambda i: Web3.to_checksum_address(self.users[i].address)  # noqa: E731
        if kind == "flag":
            return [self._tx(self.gate_address, self._data(self.gate, "set_flag", user(args[0]), args[1]))]
        if kind == "registry":
            return [
                self._tx(self.registry_address, self._data(self.registry, "set_flag", user(args[0]), args[1]))
            ]
        if kind == "mode":
            return [self._tx(self.gate_address, self._data(self.gate, "set_mode", args[0]))]
        if kind == "other":  # the registry (code) or a user (none)
            target = Web3.to_checksum_address(self.registry_address) if args[0] else user(0)
            return [self._tx(self.gate_address, self._data(self.gate, "set_other", target))]
        if kind == "pay":  # one wei: flips the user's balance parity
            return [self._tx(bytes.fromhex(self.users[args[0]].address[2:]), b"", value=1)]
        return []  # an empty block: only the clock moves

    @staticmethod
    def _data(contract: Any, fn: str, *args: Any) -> bytes:
        return bytes.fromhex(contract.encode_abi(fn, list(args))[2:])


_STEPS = st.one_of(
    st.tuples(st.just("flag"), st.integers(0, 2), st.sampled_from([0, 1, 7])),
    st.tuples(st.just("registry"), st.integers(0, 2), st.integers(0, 1)),
    st.tuples(st.just("mode"), st.integers(0, 5)),
    st.tuples(st.just("other"), st.booleans()),
    st.tuples(st.just("pay"), st.integers(0, 2)),
    st.tuples(st.just("tick")),
)


@pytest.fixture(scope="module")
def totals() -> Iterator[dict[str, int]]:
    counts = {"carried": 0, "run": 0}
    yield counts
    # Over all examples both paths were taken: the property compared carried answers, not only fresh runs.
    assert counts["carried"] > 0 and counts["run"] > 0, counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_STEPS, min_size=1, max_size=8))
def test_carried_answer__equals_a_fresh_call__whatever_the_blocks_change(
    steps: list[tuple[Any, ...]], signer: LocalAccount, users: list[LocalAccount], totals: dict[str, int]
) -> None:
    world = _GateChain(signer, users[0], users[1:4])
    try:
        for step in steps:
            world.block(world.action(step))
            head = world.chain.head_record()
            for user in world.users:
                who = bytes.fromhex(user.address[2:])
                assert world.chain.is_allowed(who, head) == _fresh(world.chain, who), (step, user.address)
        for kind in totals:
            totals[kind] += world.chain.permission_calls[kind]
    finally:
        world.chain.store.close()


def test_readset__context_reads_are_not_kept__state_reads_are(
    signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """Mode 1 reads TIMESTAMP: no read set, every head runs the call. Mode 0 reads one slot and the code."""
    world = _GateChain(signer, users[0], users[1:4])
    try:
        who = bytes.fromhex(world.users[0].address[2:])
        world.block(world.action(("mode", 1)))
        assert world.chain.is_allowed(who, world.chain.head_record()) == _fresh(world.chain, who)
        assert world.chain._allowed_reads.get(who) is None
        world.block(world.action(("mode", 0)))
        world.chain.is_allowed(who, world.chain.head_record())
        kept = world.chain._allowed_reads.get(who)
        assert kept is not None
        kinds = {kind for (kind, _address, _slot), _value in kept[0].reads}
        assert "storage" in kinds and "code" in kinds
        run = world.chain.permission_calls["run"]
        world.block([])  # nothing the call read changed
        world.chain.is_allowed(who, world.chain.head_record())
        assert world.chain.permission_calls["run"] == run and world.chain.permission_calls["carried"] >= 1
    finally:
        world.chain.store.close()


def test_readset__another_author__holds_only_if_the_run_touched_neither() -> None:
    """The fee recipient starts warm (EIP-3651), so a run touching it may take other gas under another author."""
    author, other, contract = b"\x01" * 20, b"\x02" * 20, b"\x03" * 20
    state = _State({("storage", contract, 0): 5, ("balance", author, -1): 9})
    untouched = readset.ReadSet(((("storage", contract, 0), 5),), "vm", author)
    touched = readset.ReadSet(((("storage", contract, 0), 5), (("balance", author, -1), 9)), "vm", author)
    assert untouched.holds(state, "vm", other)
    assert touched.holds(state, "vm", author)
    assert not touched.holds(state, "vm", other)
    assert not untouched.holds(state, "another fork", author)
    assert not untouched.holds(_State({("storage", contract, 0): 6}), "vm", author)


class _State:
    def __init__(self, values: dict[tuple[str, bytes, int], Any]) -> None:
        self.values = values

    def get_storage(self, address: bytes, slot: int) -> Any:
        return self.values.get(("storage", address, slot), 0)

    def get_balance(self, address: bytes) -> Any:
        return self.values.get(("balance", address, -1), 0)


# -- a real node, the real contracts --------------------------------------------------------------------------


def _send(w3: Web3, account: LocalAccount) -> dict[str, Any]:
    """A one-wei transfer from ``account`` at its next nonce, as the node answers it."""
    raw = signed_transfer(account, w3.eth.get_transaction_count(account.address), chain_id=1337)
    return rpc(w3, "eth_sendRawTransaction", "0x" + raw.hex())


def test_node__suspended_principal__refused_at_once__unrelated_heads_carry(tmp_path: Path) -> None:
    accounts = chains.test_accounts()
    signer = Account.from_key(keccak(text="pamchain-test-signer"))
    genesis = deployment_genesis(
        [signer.address], 1337, {a.address: 10**24 for a in accounts.values()}, accounts["deployer"].address,
        period=0,
    )  # fmt: skip
    with run_node(genesis, signer.key, tmp_path / "node", seal_mode="on-demand") as node:
        w3 = connect(node.url)
        client, _deployment = deploy_plan(w3, accounts["deployer"], standard_plan(accounts))
        chain = node.node.chain
        alice, bob = accounts["alice"], accounts["bob"]

        def mined(reply: dict[str, Any]) -> None:
            assert "result" in reply, reply
            w3.eth.wait_for_transaction_receipt(reply["result"], timeout=30, poll_latency=0.01)

        mined(_send(w3, alice))
        carried = chain.permission_calls["carried"]
        # A block that changes nothing alice's permission reads (bob's transfer): her next one carries.
        mined(_send(w3, bob))
        mined(_send(w3, alice))
        assert chain.permission_calls["carried"] > carried

        # The council suspends alice: the very next head refuses her, though her last answer was "allowed".
        client.as_account(accounts["c1"]).suspend(directory_id("alice"))
        reply = _send(w3, alice)
        assert reply["error"]["code"] == -32007, reply
        assert "not permitted" in reply["error"]["message"]
        # bob is untouched by it and still sends.
        mined(_send(w3, bob))


def test_readset__permission_contract_deployed_later__its_code_is_an_input(
    signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """Before the gate exists the call finds no code and says no; once it is deployed (a block that writes no
    slot the first answer read), the answer must change: the target's code is one of the inputs."""
    admin, user = users[0], users[1]
    gate_abi, gate_code = _compiled(GATE)
    admin_address = bytes.fromhex(admin.address[2:])
    genesis = make_genesis(
        [signer.address],
        CHAIN_ID,
        {u.address: 1000 * 10**18 for u in (admin, user)},
        allowlist=[admin.address],
        permission_contract=contract_address(admin_address, 1),
    )
    chain = Chain(load_genesis(genesis), open_store(None))
    try:
        who = bytes.fromhex(user.address[2:])
        assert chain.is_allowed(who, chain.head_record()) is False
        kept = chain._allowed_reads.get(who)
        assert kept is not None and any(kind == "code" for (kind, _a, _s), _v in kept[0].reads)

        gate = Web3().eth.contract(abi=gate_abi, bytecode=gate_code)
        deploy = gate.constructor(Web3.to_checksum_address("0x" + "00" * 20)).data_in_transaction
        allow = gate.encode_abi("set_flag", [user.address, 1])
        build_on(
            chain,
            signer,
            [
                _admin_tx(chain, admin, 0, None, b""),
                _admin_tx(chain, admin, 1, None, bytes.fromhex(deploy[2:])),
                _admin_tx(chain, admin, 2, contract_address(admin_address, 1), bytes.fromhex(allow[2:])),
            ],
        )
        assert _fresh(chain, who) is True
        assert chain.is_allowed(who, chain.head_record()) is True
    finally:
        chain.store.close()
