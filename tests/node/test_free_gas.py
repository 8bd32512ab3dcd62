"""Free gas (``config.pamchain.zeroBaseFee``): the genesis option, a real node process where an account that never
held ether transacts once permitted while everyone else is refused, the pool's per-account limits over JSON-RPC,
and the build/import rule that keeps EIP-1559's base fee at 0 on every validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from pamchain.node import (
    GenesisError,
    InvalidBlock,
    contract_address,
    deployment_genesis,
    load_genesis,
    make_genesis,
)
from pamchain.node.chain import Chain
from pamchain.node.storage import open_store
from web3 import Web3

from support.node_process import init_node, node_process

from .conftest import CHAIN_ID, ETHER
from .node_process import RpcClient, receipt

SINK = "0x" + "5e" * 20
POOL_ARGS = (
    "--seal-on-demand",
    "--txpool-free-per-account", "3",
    "--txpool-free-gas", "100000",
    "--txpool-free-window", "3600",
)  # fmt: skip


def _raw(account: LocalAccount, nonce: int, *, tip: int = 0, fee: int | None = None, **fields: Any) -> str:
    tx: dict[str, Any] = {
        "to": SINK,
        "value": 0,
        "gas": 21_000,
        "maxFeePerGas": tip if fee is None else fee,
        "maxPriorityFeePerGas": tip,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        **fields,
    }
    if tx["to"] is None:
        del tx["to"]
    else:
        tx["to"] = Web3.to_checksum_address(tx["to"])
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def _free_genesis(admin: LocalAccount, **options: Any) -> dict[str, Any]:
    """Only ``admin`` is funded and allowlisted; its first contract decides who else may send."""
    gate = "0x" + contract_address(bytes.fromhex(admin.address[2:]), 0).hex()
    return make_genesis(
        [options.pop("signer")], CHAIN_ID, {admin.address: 1000 * ETHER},
        allowlist=[admin.address], permission_contract=gate, zero_base_fee=True, **options,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ genesis
def test_genesis__zero_base_fee__base_fee_zero_and_blocks_budgeted_at_the_gas_target(
    signer: LocalAccount,
) -> None:
    doc = make_genesis([signer.address], CHAIN_ID, {}, allowlist=[signer.address], zero_base_fee=True)
    assert doc["baseFeePerGas"] == "0x0" and doc["config"]["pamchain"]["zeroBaseFee"] is True
    genesis = load_genesis(doc)
    assert genesis.zero_base_fee and genesis.base_fee == 0
    assert genesis.block_gas_budget(30_000_000) == 15_000_000
    plain = load_genesis(make_genesis([signer.address], CHAIN_ID, {}))
    assert (
        not plain.zero_base_fee
        and plain.base_fee == 10**9
        and plain.block_gas_budget(30_000_000) == 30_000_000
    )


def test_genesis__deployment__free_gas_unless_turned_off(
    signer: LocalAccount, users: list[LocalAccount]
) -> None:
    deployer = users[0].address
    assert load_genesis(deployment_genesis([signer.address], CHAIN_ID, {}, deployer)).zero_base_fee
    paid = load_genesis(deployment_genesis([signer.address], CHAIN_ID, {}, deployer, zero_base_fee=False))
    assert not paid.zero_base_fee and paid.base_fee == 10**9


def _london_later(config: dict[str, Any]) -> None:
    """London (and everything after it) from block 5 instead of 0."""
    for key in ("londonBlock", "arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock"):
        config[key] = 5
    for key in ("shanghaiTime", "cancunTime", "pragueTime"):
        config[key] = None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["config"]["pamchain"].update(zeroBaseFee="yes"), "zeroBaseFee must be true or false"),
        (lambda d: d.update(baseFeePerGas="0x7"), "needs baseFeePerGas 0x0"),
        (lambda d: d["config"]["pamchain"].pop("allowlist"), "needs account permissioning"),
        (lambda d: _london_later(d["config"]), "needs London"),
    ],
)
def test_genesis__zero_base_fee_misconfigured__refused(
    signer: LocalAccount, change: Any, message: str
) -> None:
    doc = make_genesis([signer.address], CHAIN_ID, {}, allowlist=[signer.address], zero_base_fee=True)
    doc = json.loads(json.dumps(doc))
    change(doc)
    with pytest.raises(GenesisError, match=message):
        load_genesis(doc)


# ------------------------------------------------------------------------------------------- a real node
def test_node_process__permitted_unfunded_account_transacts_at_once_others_refused_limits_hold(
    tmp_path: Path, signer: LocalAccount, users: list[LocalAccount], contract_artifact: dict[str, Any]
) -> None:
    admin, fresh, other, outsider = users[0], users[1], users[2], users[3]
    files = init_node(tmp_path, _free_genesis(admin, signer=signer.address), bytes(signer.key))
    with node_process(files, POOL_ARGS, log=tmp_path / "node.log") as (url, _proc):
        rpc = RpcClient(url)
        # The chain says so: no fee to pay, so wallets and the SDK send zero-price transactions.
        assert rpc.call("eth_gasPrice") == "0x0" and rpc.call("eth_maxPriorityFeePerGas") == "0x0"
        assert rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"] == "0x0"

        # The admin pays (a tip of 1 gwei is above the minimum, so free-gas limits do not apply to it).
        gate = Web3().eth.contract(abi=contract_artifact["abi"])
        paid = {"tip": 10**9, "gas": 1_000_000}
        deployed = receipt(rpc, rpc.call("eth_sendRawTransaction", _raw(admin, 0, to=None, data=contract_artifact["bytecode"], **paid)))  # fmt: skip
        gate_address = deployed["contractAddress"]
        for nonce, who in ((1, fresh), (2, other)):
            allow = gate.encode_abi("allow", [who.address, True])
            receipt(
                rpc,
                rpc.call("eth_sendRawTransaction", _raw(admin, nonce, to=gate_address, data=allow, **paid)),
            )

        # Never funded, not permitted: refused with the permissioning error, nothing pooled.
        refused = rpc.request("eth_sendRawTransaction", _raw(outsider, 0))
        assert refused["error"]["code"] == -32007 and "not permitted" in refused["error"]["message"]
        assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x0"}

        # Never funded, permitted: its zero-price call is mined at once and costs nothing.
        bump = gate.encode_abi("bump", [5])
        mined = receipt(rpc, rpc.call("eth_sendRawTransaction", _raw(fresh, 0, to=gate_address, data=bump, gas=60_000)))  # fmt: skip
        assert mined["status"] == "0x1" and mined["effectiveGasPrice"] == "0x0"
        count = rpc.call("eth_call", {"to": gate_address, "data": gate.encode_abi("count", [])}, "latest")
        assert int(count, 16) == 5
        assert rpc.call("eth_getBalance", fresh.address, "latest") == "0x0"
        assert rpc.call("eth_getBlockByNumber", mined["blockNumber"], False)["baseFeePerGas"] == "0x0"
        # Paying needs funds it does not have.
        broke = rpc.request("eth_sendRawTransaction", _raw(fresh, 1, tip=1))
        assert broke["error"]["code"] == -32000 and "insufficient funds" in broke["error"]["message"]

        # Gas per window: 60,000 + 21,000 fit the 100,000 budget; 21,000 more do not, with a time to retry.
        receipt(rpc, rpc.call("eth_sendRawTransaction", _raw(fresh, 1)))
        over = rpc.request("eth_sendRawTransaction", _raw(fresh, 2))
        assert over["error"]["code"] == -32005, over
        assert "zero-price gas budget of 100000 gas per 3600 s" in over["error"]["message"]
        assert over["error"]["data"]["retryAfter"] > 0

        # Pending per account: three held (a nonce gap keeps them pending), the fourth refused.
        for nonce in (1, 2, 3):
            assert rpc.call("eth_sendRawTransaction", _raw(other, nonce))
        crowded = rpc.request("eth_sendRawTransaction", _raw(other, 4))
        assert crowded["error"]["code"] == -32005
        assert "at most 3 pending transactions per account" in crowded["error"]["message"]
        assert int(rpc.call("txpool_status")["queued"], 16) == 3


# ------------------------------------------------------------------------------ the base fee stays at 0
def _signed_pool_txs(chain: Chain, sender: LocalAccount, count: int) -> list[Any]:
    return [chain.decode_transaction(bytes.fromhex(_raw(sender, n)[2:])) for n in range(count)]


def test_build_and_import__blocks_stay_at_the_gas_target__base_fee_stays_zero(
    signer: LocalAccount, users: list[LocalAccount]
) -> None:
    member = users[0]
    doc = make_genesis([signer.address], CHAIN_ID, {}, allowlist=[member.address], zero_base_fee=True,
                       gas_limit=100_000)  # fmt: skip  # target 50,000: two transfers, not three
    # A node that forgot the rule (same genesis block: the option lives in config, not in the header) builds a
    # block above the target, as a hostile or misconfigured validator could.
    loose_doc = json.loads(json.dumps(doc))
    del loose_doc["config"]["pamchain"]["zeroBaseFee"]
    strict, loose = (
        Chain(load_genesis(doc), open_store(None)),
        Chain(load_genesis(loose_doc), open_store(None)),
    )
    assert strict.genesis_hash == loose.genesis_hash
    key = keys.PrivateKey(signer.key)
    me = Address(key.public_key.to_canonical_address())

    built = strict.build_block(_signed_pool_txs(strict, member, 3), me, key)
    assert len(built.included) == 2 and built.dropped == ()  # the third waits for the next block
    assert strict.head.gas_used == 42_000 and strict.next_base_fee(strict.head_record()) == 0

    loose.build_block(_signed_pool_txs(loose, member, 3), me, key)
    assert (
        loose.head.gas_used == 63_000 and loose.next_base_fee(loose.head_record()) == 1
    )  # EIP-1559: +1 wei, for good
    replica = Chain(load_genesis(doc), open_store(None))
    with pytest.raises(
        InvalidBlock, match="gas used 63000 above the gas target 50000 of a zero-base-fee chain"
    ):
        replica.import_block(loose._evm_block(loose.head))
    assert replica.head.block_number == 0
    assert replica.import_block(strict._evm_block(strict.head))  # the well-behaved block imports
