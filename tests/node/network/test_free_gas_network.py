"""Free gas across validators: zero-price transactions of an account that never held ether, sent to one node,
are sealed by whichever signer is due and imported (re-executed and checked) by the others, and the base fee
stays 0 on every node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.cluster import CHAIN_ID, Cluster, Member, account, wait_blocks, wait_for


def _peers(m: Member) -> int:
    return int(m.rpc.call("net_peerCount"), 16)


def test_zero_price_transactions__sealed_by_one_validator__imported_by_the_others(
    cluster_factory: Callable[..., Cluster],
) -> None:
    free = account("free")  # allowlisted, never funded
    cluster = cluster_factory(
        3, genesis_options={"zero_base_fee": True, "allowlist": [free.address, account("user").address]}
    )
    a, b, c = cluster.members
    wait_for(lambda: all(_peers(m) == 2 for m in cluster.members), 60, "a full mesh")
    hashes = []
    for nonce, via in enumerate((a, b, c, a, b, c)):
        tx = free.sign_transaction(
            {"to": account("sink").address, "value": 0, "gas": 21_000, "maxFeePerGas": 0,
             "maxPriorityFeePerGas": 0, "nonce": nonce, "chainId": CHAIN_ID, "type": 2}
        )  # fmt: skip
        hashes.append(via.rpc.call("eth_sendRawTransaction", "0x" + tx.raw_transaction.hex()))

    def final_everywhere() -> list[dict[str, Any]] | None:
        found = []
        for m in cluster.members:
            finalized = m.rpc.number("finalized")
            for tx_hash in hashes:
                r = m.rpc.call("eth_getTransactionReceipt", tx_hash)
                if r is None or int(r["blockNumber"], 16) > finalized:
                    return None
                found.append(r)
        return found

    receipts = wait_blocks(a, final_everywhere, 30, "every zero-price transaction final on every node")
    assert all(r["status"] == "0x1" and r["effectiveGasPrice"] == "0x0" for r in receipts)
    blocks = {r["blockHash"] for r in receipts}
    for tx_hash in hashes:  # the same block on every node
        assert (
            len({m.rpc.call("eth_getTransactionReceipt", tx_hash)["blockHash"] for m in cluster.members}) == 1
        )
    # Each block was sealed by one validator and imported (executed and checked) by the two others.
    for block_hash in blocks:
        sealer = str(a.rpc.call("clique_getSigner", block_hash)).lower()
        importers = [m for m in cluster.members if m.signer.address.lower() != sealer]
        assert len(importers) == 2  # the sealer is one of the three validators
        for m in importers:
            block = m.rpc.call("eth_getBlockByHash", block_hash, True)
            assert block["baseFeePerGas"] == "0x0"
            assert any(tx["hash"] in hashes and tx["maxFeePerGas"] == "0x0" for tx in block["transactions"])
    for m in cluster.members:
        head = m.rpc.block("latest")
        assert head["baseFeePerGas"] == "0x0"
        assert m.rpc.call("eth_getBalance", free.address, "latest") == "0x0"
        assert int(m.rpc.call("eth_getTransactionCount", free.address, "latest"), 16) == len(hashes)
