"""Account permissioning: genesis allowlist plus contract view, judged against the PARENT block's state."""

from __future__ import annotations

import io
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from pamchain.node import AccountNotAllowed, InvalidBlock, contract_address, load_genesis, run_node
from pamchain.node.chain import Chain
from pamchain.node.chainfile import export_chain, import_chain
from pamchain.node.storage import open_store
from web3 import Web3

from .conftest import CHAIN_ID, make_web3


def _raw(account: LocalAccount, nonce: int, **fields: Any) -> bytes:
    tx = {
        "to": "0x" + "11" * 20,
        "value": 1,
        "gas": 100_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        **fields,
    }
    if tx["to"] is None:
        del tx["to"]
    else:
        tx["to"] = Web3.to_checksum_address(tx["to"])
    return bytes(account.sign_transaction(tx).raw_transaction)


def _call_data(contract: Any, fn: str, *args: Any) -> str:
    return contract.encode_abi(fn, list(args))


@pytest.fixture
def permissioned(genesis_factory: Any, users: list[LocalAccount]) -> dict[str, Any]:
    admin = users[0]
    return genesis_factory(
        allowlist=[admin.address], permission_contract=contract_address(bytes.fromhex(admin.address[2:]), 0)
    )


def test_non_allowlisted_sender_is_refused_and_nothing_is_mined(
    permissioned: dict[str, Any],
    signer: LocalAccount,
    users: list[LocalAccount],
    contract_artifact: dict[str, Any],
) -> None:
    admin, outsider = users[0], users[1]
    with run_node(permissioned, signer.key) as node:
        w3 = make_web3(node.url)
        # Before the permission contract exists, only the allowlist may send.
        response = w3.provider.make_request("eth_sendRawTransaction", ["0x" + _raw(outsider, 0).hex()])
        assert response["error"]["code"] == -32007
        assert "not permitted" in response["error"]["message"]
        assert w3.eth.block_number == 0
        status = w3.provider.make_request("txpool_status", [])["result"]
        assert status == {"pending": "0x0", "queued": "0x0"}

        # The admin deploys the permission contract at the address genesis named in advance.
        deploy = {
            "data": contract_artifact["bytecode"],
            "gas": 1_000_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
            "nonce": 0,
            "chainId": CHAIN_ID,
            "value": 0,
        }
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(admin.sign_transaction(deploy).raw_transaction),
            timeout=10,
            poll_latency=0.01,
        )
        assert receipt.contractAddress.lower() == "0x" + load_genesis(permissioned).permissions.contract.hex()
        gate = w3.eth.contract(address=receipt.contractAddress, abi=contract_artifact["abi"])

        # Still refused: the contract says no.
        response = w3.provider.make_request("eth_sendRawTransaction", ["0x" + _raw(outsider, 0).hex()])
        assert response["error"]["code"] == -32007

        allow = {
            "to": gate.address,
            "data": _call_data(gate, "allow", outsider.address, True),
            "gas": 100_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 1,
            "nonce": 1,
            "chainId": CHAIN_ID,
            "value": 0,
        }
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(admin.sign_transaction(allow).raw_transaction),
            timeout=10,
            poll_latency=0.01,
        )

        # Allowed by the contract view: accepted and mined.
        tx_hash = w3.eth.send_raw_transaction(_raw(outsider, 0))
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.01).status == 1


def _chain(genesis_doc: dict[str, Any]) -> Chain:
    return Chain(load_genesis(genesis_doc), open_store(None))


def _pool_tx(chain: Chain, raw: bytes) -> Any:
    return chain.decode_transaction(raw)


def test_import_rejects_block_from_sender_not_allowed_at_parent(
    genesis_factory: Any, permissioned: dict[str, Any], signer: LocalAccount, users: list[LocalAccount]
) -> None:
    # Same genesis header (permissioning lives in config, not in the header) but no allowlist: a node
    # that would build a block permissioned peers must refuse.
    open_doc = dict(permissioned, config={k: v for k, v in permissioned["config"].items() if k != "pamchain"})
    builder, importer = _chain(open_doc), _chain(permissioned)
    assert builder.genesis_hash == importer.genesis_hash
    key = keys.PrivateKey(signer.key)
    outsider = users[1]
    builder.build_block(
        [_pool_tx(builder, _raw(outsider, 0))], Address(key.public_key.to_canonical_address()), key
    )
    block = builder._evm_block(builder.head)
    with pytest.raises(InvalidBlock, match="not permitted"):
        importer.import_block(block)
    assert importer.head.block_number == 0


def test_later_revocation_does_not_break_resync(
    permissioned: dict[str, Any],
    signer: LocalAccount,
    users: list[LocalAccount],
    contract_artifact: dict[str, Any],
) -> None:
    admin, member = users[0], users[1]
    key = keys.PrivateKey(signer.key)
    me = Address(key.public_key.to_canonical_address())
    source = _chain(permissioned)

    def seal(*raws: bytes) -> None:
        result = source.build_block([_pool_tx(source, r) for r in raws], me, key)
        assert not result.dropped, result.dropped
        assert all(r.status == 1 for r in source.block_receipts(source.head))

    gate = Web3().eth.contract(abi=contract_artifact["abi"])
    gate_addr = "0x" + load_genesis(permissioned).permissions.contract.hex()
    seal(_raw(admin, 0, to=None, value=0, data=contract_artifact["bytecode"], gas=1_000_000))
    seal(_raw(admin, 1, to=gate_addr, value=0, data=gate.encode_abi("allow", [member.address, True])))
    seal(_raw(member, 0))  # allowed at its parent
    seal(_raw(admin, 2, to=gate_addr, value=0, data=gate.encode_abi("allow", [member.address, False])))
    # After revocation the member is refused when building on the new head.
    result = source.build_block([_pool_tx(source, _raw(member, 1))], me, key)
    assert result.included == () and "not permitted" in result.dropped[0][1]

    sink = io.BytesIO()
    export_chain(source, sink)
    replica = _chain(permissioned)
    assert import_chain(replica, sink.getvalue()) == source.head.block_number
    assert replica.head.hash == source.head.hash


def test_account_not_allowed_error_carries_sender(users: list[LocalAccount]) -> None:
    err = AccountNotAllowed(b"\x01" * 20)
    assert err.sender == b"\x01" * 20 and "0x0101" in str(err)
