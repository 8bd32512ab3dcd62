"""User calls read committed state through their own reader, off the chain thread (``CallReader``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from pamchain.node import run_node
from pamchain.node.service import NodeHandle
from pamchain.node.storage import SqliteStore
from web3 import Web3

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
