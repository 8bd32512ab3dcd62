"""User calls read committed state through their own reader, off the chain thread (``CallReader``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import vyper
from eth.vm.forks.frontier.state import FrontierState
from eth_account.signers.local import LocalAccount
from pamchain.node import run_node
from pamchain.node.service import NodeHandle
from pamchain.node.storage import SqliteStore
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from .conftest import make_web3
from .test_web3 import _deploy, _send


def test_store_reader__sees_commits_and_never_writes(tmp_path: Path) -> None:
    for store in (SqliteStore(tmp_path / "chain.sqlite"), SqliteStore(None)):
        reader = store.reader()
        assert reader.get(b"k") is None
        store.commit([(b"k", b"v")])
        assert reader.get(b"k") == b"v"
        reader.close()
        store.close()


def _history(w3: Web3, users: list[LocalAccount], artifact: dict[str, Any]) -> None:
    counter = _deploy(w3, users[0], artifact)
    first = _send(
        w3, users[1], counter.functions.bump(5).build_transaction({"from": users[1].address, "nonce": 0})
    )
    second = _send(
        w3, users[1], counter.functions.bump(2).build_transaction({"from": users[1].address, "nonce": 1})
    )
    # Each call runs on the state of the block it names, read off the chain thread.
    assert counter.functions.count().call(block_identifier=first.blockNumber - 1) == 0
    assert counter.functions.count().call(block_identifier=first.blockNumber) == 5
    assert counter.functions.count().call(block_identifier=second.blockNumber) == 7
    assert counter.functions.count().call() == 7
    # A call's writes stay in its overlay: state is unchanged afterwards.
    bump = counter.functions.bump(100)
    bump.call({"from": users[2].address})
    assert counter.functions.count().call() == 7
    assert bump.estimate_gas({"from": users[2].address}) > 21_000


def test_calls__on_historical_state__in_memory_store(
    node: NodeHandle, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    _history(make_web3(node.url), users, contract_artifact)


def test_calls__on_historical_state__file_store(
    tmp_path: Path,
    genesis_factory: Any,
    signer: LocalAccount,
    users: list[LocalAccount],
    contract_artifact: dict[str, Any],
) -> None:
    with run_node(genesis_factory(), signer.key, tmp_path / "data", seal_mode="on-demand") as handle:
        _history(make_web3(handle.url), users, contract_artifact)


# Runtime: with calldata, store COINBASE in slot 0; without, return COINBASE (as a 32-byte word).
_COINBASE_RUNTIME = bytes.fromhex("36600b57415f5260205ff35b415f5500")
_COINBASE_INIT = bytes.fromhex("6010600a5f3960105ff3") + _COINBASE_RUNTIME


def test_calls__see_the_blocks_signer_as_coinbase(
    node: NodeHandle, signer: LocalAccount, users: list[LocalAccount]
) -> None:
    """COINBASE is the block's sealer, as in geth's Clique: in a mined transaction and in ``eth_call`` alike
    (a call that names no fee runs with a zero base fee, which must not change the block's author)."""
    w3 = make_web3(node.url)
    deployed = _send(w3, users[0], {"data": _COINBASE_INIT, "value": 0, "gasPrice": 2 * 10**9})
    assert deployed.status == 1
    address = deployed.contractAddress
    mined = _send(w3, users[0], {"to": address, "data": b"\x01", "value": 0, "gasPrice": 2 * 10**9})
    assert mined.status == 1
    assert w3.eth.get_block(mined.blockNumber)["baseFeePerGas"] > 0
    stored = w3.eth.get_storage_at(address, 0)
    assert stored[-20:] == bytes.fromhex(signer.address[2:])
    for block in ("latest", mined.blockNumber):
        seen = w3.eth.call({"to": address}, block)
        assert seen[-20:] == bytes.fromhex(signer.address[2:]), block


_BURNER = """
# pragma version ^0.4.0
x: HashMap[uint256, uint256]

@external
def burn(n: uint256):
    for i: uint256 in range(n, bound=200):
        self.x[i] = i + 1
"""

_FORWARDER = """
# pragma version ^0.4.0
interface Burner:
    def burn(n: uint256): nonpayable

touched: uint256

@external
def run(target: address, n: uint256):
    extcall Burner(target).burn(n)
    self.touched = n
"""


@pytest.mark.parametrize("n", [1, 7, 40])
def test_estimate_gas__enough_and_within_geths_tolerance__through_a_call(
    node: NodeHandle, users: list[LocalAccount], n: int
) -> None:
    """A call that forwards gas (the 63/64 rule) and writes storage (SSTORE's stipend sentry): the estimate
    lets the transaction succeed, and 2 % less gas does not (geth's search stops within 1.5 %)."""
    w3 = make_web3(node.url)
    burner = _deploy(w3, users[0], _compiled(_BURNER))
    forwarder = _deploy(w3, users[0], _compiled(_FORWARDER))
    call = forwarder.functions.run(burner.address, n)
    estimate = call.estimate_gas({"from": users[1].address})
    with pytest.raises((Web3RPCError, ContractLogicError)):  # out of gas, or the call's revert for lack of it
        call.call({"from": users[1].address, "gas": estimate * 98 // 100})
    receipt = _send(w3, users[1], call.build_transaction({"from": users[1].address, "gas": estimate}))
    assert receipt.status == 1
    assert forwarder.functions.run(burner.address, n).estimate_gas({"from": users[1].address}) <= estimate


_WRITER = """
# pragma version ^0.4.0
event Set:
    v: uint256

a: public(uint256)

@external
def set(v: uint256):
    self.a = v
    self.a = v + 1  # a dirty slot: 100 gas, so little is left when it starts
    log Set(v=v)
"""


@pytest.mark.parametrize("value", [1, 2**200])  # a cheap log, a costlier one
def test_estimate_gas__no_nested_call__the_least_gas_that_works(
    node: NodeHandle, users: list[LocalAccount], value: int
) -> None:
    """The last SSTORE before a cheap epilogue (a log) needs more than 2,300 gas left (EIP-2200): the estimate
    is exactly the least limit that works, one gas less fails."""
    w3 = make_web3(node.url)
    writer = _deploy(w3, users[0], _compiled(_WRITER))
    call = writer.functions.set(value)
    estimate = call.estimate_gas({"from": users[1].address})
    with pytest.raises((Web3RPCError, ContractLogicError)):
        call.call({"from": users[1].address, "gas": estimate - 1})
    receipt = _send(w3, users[1], call.build_transaction({"from": users[1].address, "gas": estimate}))
    assert receipt.status == 1 and receipt.gasUsed < estimate  # the sentry, not the gas used, set it
    assert writer.functions.a().call() == value + 1


_GAS_READER = """
# pragma version ^0.4.0
a: public(uint256)

@external
def set(v: uint256):
    assert msg.gas > 60000, "too little gas left"  # reads GAS: the run depends on the limit
    self.a = v
"""


def _counting_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts EVM runs of transactions (calls and estimates included) from now on, one entry a run."""
    runs: list[int] = []
    original = FrontierState.apply_transaction

    def counted(self: Any, transaction: Any) -> Any:
        runs.append(1)
        return original(self, transaction)

    monkeypatch.setattr(FrontierState, "apply_transaction", counted)
    return runs


def test_estimate_gas__no_nested_call_nor_gas_read__one_run(
    node: NodeHandle, users: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that neither calls out nor reads the gas left behaves the same under the limit it computed: the
    estimate answers from that one run, and the limit works (one gas less does not: the sentry set it)."""
    w3 = make_web3(node.url)
    writer = _deploy(w3, users[0], _compiled(_WRITER))
    call = writer.functions.set(7)
    runs = _counting_runs(monkeypatch)
    estimate = call.estimate_gas({"from": users[1].address})
    assert len(runs) == 1
    monkeypatch.undo()
    with pytest.raises((Web3RPCError, ContractLogicError)):
        call.call({"from": users[1].address, "gas": estimate - 1})
    receipt = _send(w3, users[1], call.build_transaction({"from": users[1].address, "gas": estimate}))
    assert receipt.status == 1 and writer.functions.a().call() == 8


def test_estimate_gas__a_run_that_reads_the_gas_left__confirmed_and_searched(
    node: NodeHandle, users: list[LocalAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contract that reverts with too little gas left (``msg.gas``): what the first run used is not enough,
    so the estimate confirms and searches (several runs) and its answer lets the transaction succeed."""
    w3 = make_web3(node.url)
    reader = _deploy(w3, users[0], _compiled(_GAS_READER))
    call = reader.functions.set(5)
    runs = _counting_runs(monkeypatch)
    estimate = call.estimate_gas({"from": users[1].address})
    assert len(runs) > 2  # the first run, the confirmation that failed, the search
    monkeypatch.undo()
    assert estimate > 60_000
    receipt = _send(w3, users[1], call.build_transaction({"from": users[1].address, "gas": estimate}))
    assert receipt.status == 1 and reader.functions.a().call() == 5


def _compiled(source: str) -> dict[str, Any]:
    out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    return {"abi": out["abi"], "bytecode": out["bytecode"]}


def test_calls_at_latest__answered_while_the_chain_thread_is_busy(
    node: NodeHandle, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    """A call or an estimate on the head's state needs nothing of the chain thread (the head record is
    readable from any thread, its state committed before it becomes the head): it is answered while the
    chain thread seals a long block, instead of queueing behind it."""
    w3 = make_web3(node.url)
    counter = _deploy(w3, users[0], contract_artifact)
    busy, release = threading.Event(), threading.Event()

    def occupy() -> None:
        busy.set()
        release.wait(30)

    node.node._executor.submit(occupy)  # the chain thread's one worker, as a long seal holds it
    try:
        assert busy.wait(10)
        answered: list[Any] = []
        worker = threading.Thread(
            target=lambda: answered.extend(
                [
                    counter.functions.count().call(),
                    counter.functions.bump(1).estimate_gas({"from": users[1].address}),
                ]
            )
        )
        worker.start()
        worker.join(10)
        assert answered and answered[0] == 0 and answered[1] > 21_000
    finally:
        release.set()
