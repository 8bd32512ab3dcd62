"""EIP-7966 ``eth_sendRawTransactionSync`` over HTTP: the receipt in the same request once a block holds the
transaction (sealing on demand, and with 1 s blocks, where the answer waits for the next head), error 4 with
the hash when no block comes in time, error 5 at once behind a missing nonce, the timeout parameter bounded by
the node's, and refusals exactly as ``eth_sendRawTransaction`` words them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from pamchain.node.rpc.limits import RpcLimits
from pamchain.node.service import NodeHandle, run_node
from web3 import Web3

from .conftest import make_web3, rpc, signed_transfer


def _transfer(sender: LocalAccount, nonce: int, value: int = 1) -> str:
    return "0x" + signed_transfer(sender, nonce, value).hex()


def test_sync__sealing_on_demand__answers_with_the_receipt(w3: Web3, users: list[LocalAccount]) -> None:
    reply = rpc(w3, "eth_sendRawTransactionSync", _transfer(users[0], 0))
    receipt = reply["result"]
    assert receipt["status"] == "0x1" and receipt["blockNumber"] == "0x1"
    # The same object eth_getTransactionReceipt gives.
    assert rpc(w3, "eth_getTransactionReceipt", receipt["transactionHash"])["result"] == receipt


def test_sync__missing_nonce__error_5_at_once_with_the_hash(w3: Web3, users: list[LocalAccount]) -> None:
    started = time.monotonic()
    gapped = rpc(w3, "eth_sendRawTransactionSync", _transfer(users[0], 1))
    assert time.monotonic() - started < 1.5  # not the 2 s wait
    error = gapped["error"]
    assert error["code"] == 5
    assert "the account's next nonce is 0x0" in error["message"]
    assert rpc(w3, "eth_getTransactionByHash", error["data"])["result"]["nonce"] == "0x1"  # pooled
    # Filling the gap mines both.
    filled = rpc(w3, "eth_sendRawTransactionSync", _transfer(users[0], 0))["result"]
    assert filled["status"] == "0x1"
    later = w3.eth.wait_for_transaction_receipt(error["data"], timeout=30)
    assert later["status"] == 1


def test_sync__refused_transaction__same_error_as_send_raw(w3: Web3, users: list[LocalAccount]) -> None:
    raw = _transfer(users[0], 0, value=10**40)  # more than the account holds
    sync = rpc(w3, "eth_sendRawTransactionSync", raw)["error"]
    plain = rpc(w3, "eth_sendRawTransaction", raw)["error"]
    assert sync == plain and sync["code"] == -32000 and "insufficient funds" in sync["message"]
    assert rpc(w3, "eth_sendRawTransactionSync", "0x1234")["error"]["code"] == -32000
    assert rpc(w3, "eth_sendRawTransactionSync")["error"]["code"] == -32602


@pytest.fixture
def unsealed(
    genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount
) -> Iterator[tuple[NodeHandle, Web3]]:
    """A node that never seals (an RPC node of a chain whose signers are elsewhere), 0.3 s sync timeout."""
    with run_node(
        genesis_factory(), None, seal_mode="none", rpc_limits=RpcLimits(send_sync_timeout=0.3)
    ) as handle:
        yield handle, make_web3(handle.url)


@pytest.mark.parametrize(
    ("timeout", "waited"),
    [
        (None, "0.3s"),  # the node's
        (100, "0.1s"),  # the client's, in ms
        ("0x64", "0.1s"),  # as a QUANTITY
        (10**9, "0.3s"),  # over the node's maximum: the node's
        (0, "0.3s"),  # not positive: the node's
        (-5, "0.3s"),
        ("soon", "0.3s"),
    ],
)
def test_sync__no_block_in_time__error_4_with_the_hash_and_pooled(
    unsealed: tuple[NodeHandle, Web3], users: list[LocalAccount], timeout: Any, waited: str
) -> None:
    _, w3 = unsealed
    params = [_transfer(users[0], 0)] + ([] if timeout is None else [timeout])
    error = rpc(w3, "eth_sendRawTransactionSync", *params)["error"]
    assert error["code"] == 4
    assert error["message"] == f"The transaction was added to the mempool but wasn't processed in {waited}."
    pooled = rpc(w3, "eth_getTransactionByHash", error["data"])["result"]
    assert pooled["blockNumber"] is None  # pending, not lost


def test_sync__one_second_blocks__answers_when_the_next_block_holds_it(
    genesis_factory: Callable[..., dict[str, Any]], signer: LocalAccount, users: list[LocalAccount]
) -> None:
    limits = RpcLimits(send_sync_timeout=10.0)  # a wait that only ends at the timeout would take 10 s
    with run_node(
        genesis_factory(period=1), signer.key, seal_mode="period", period=1, rpc_limits=limits
    ) as handle:
        w3 = make_web3(handle.url)
        for nonce in range(3):  # each waits for a block of its own, up to a period
            started = time.monotonic()
            receipt = rpc(w3, "eth_sendRawTransactionSync", _transfer(users[0], nonce))["result"]
            assert receipt["status"] == "0x1"
            assert time.monotonic() - started < 3.0  # a period, and slack for a loaded machine
            block = rpc(w3, "eth_getBlockByNumber", receipt["blockNumber"], False)["result"]
            assert receipt["transactionHash"] in block["transactions"]
