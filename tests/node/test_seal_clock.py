"""Sealing never runs far ahead of the clock: grants are timed by block timestamps."""

from __future__ import annotations

import time

from eth_account import Account
from eth_utils import keccak
from pamchain.node.core import MAX_SEAL_AHEAD
from pamchain.node.genesis import make_genesis
from pamchain.node.service import run_node
from pamchain.sdk.chain.client import connect


def test_burst_of_blocks__head_timestamp_stays_within_bound_of_clock() -> None:
    signer = Account.from_key(keccak(text="seal-clock-signer"))
    sender = Account.from_key(keccak(text="seal-clock-sender"))
    genesis = make_genesis([signer.address], 1337, {sender.address: 10**24})
    with run_node(genesis, signer.key) as node:
        w3 = connect(node.url)
        hashes = []
        for nonce in range(12):  # one transaction at a time: on demand, each wants its own block at once
            tx = sender.sign_transaction(
                {
                    "to": signer.address,
                    "value": 1,
                    "gas": 21000,
                    "maxFeePerGas": 10**10,
                    "maxPriorityFeePerGas": 10**9,
                    "nonce": nonce,
                    "chainId": 1337,
                }
            )
            hashes.append(w3.eth.send_raw_transaction(tx.raw_transaction))
            w3.eth.wait_for_transaction_receipt(hashes[-1], timeout=30)
            head = w3.eth.get_block("latest")
            assert head["timestamp"] <= time.time() + MAX_SEAL_AHEAD + 0.5
        assert w3.eth.get_block("latest")["number"] >= 2
