"""Sealing never runs far ahead of the clock: grants are timed by block timestamps."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_utils import keccak
from pamchain.node.core import MAX_SEAL_AHEAD
from pamchain.node.errors import NodeError
from pamchain.node.genesis import make_genesis
from pamchain.node.sealing import FAST_FINALITY_EPOCHS, Plan, round_delay, seal_step
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


def _plan(pending: bool, depth: int | None, epoch: int = 2) -> Plan:
    return Plan(
        b"\0" * 32, 10, 1_000, True, pending, depth, epoch, (b"a" * 20, b"b" * 20, b"c" * 20), frozenset()
    )


def test_seal_step__on_demand_transactions_and_their_finalizing_blocks_at_once__a_stall_keeps_the_period() -> (
    None
):
    period_0, period = 0, 1
    assert seal_step(_plan(True, None), True, period_0, period) == 0
    assert seal_step(_plan(False, 0), True, period_0, period) == 0  # the block to finalize is the head
    last_fast = FAST_FINALITY_EPOCHS * 2 - 1
    assert seal_step(_plan(False, last_fast), True, period_0, period) == 0
    # Finality has not come in that many epochs: a stall, one block a period (no storm of empty blocks).
    assert seal_step(_plan(False, last_fast + 1), True, period_0, period) == period
    assert seal_step(_plan(False, 200, epoch=60), True, period_0, period) == 0  # a wider spacing, more blocks
    assert seal_step(_plan(False, None), True, period_0, period) == period  # nothing to finalize
    # Sealing by period (or on a chain of period >= 1, whose step is the period): always the period.
    assert seal_step(_plan(True, 0), False, period_0, 3) == 3
    assert seal_step(_plan(False, 0), True, 1, 1) == 1


@pytest.mark.parametrize("period", [0, -1])
def test_a_block_period_under_one_second_is_refused(period: int) -> None:
    """The producer's timers run on it; 0 made a networked signer spin. Period-0 chains seal on demand."""
    signer = Account.from_key(keccak(text="seal-clock-signer"))
    genesis = make_genesis([signer.address], 1337, {}, period=0)
    refused = pytest.raises(NodeError, match=r"at least 1 second.*--seal-on-demand")
    with refused, run_node(genesis, signer.key, seal_mode="period", period=period):
        pass


def test_round_delay__a_past_timestamp_never_shortens_the_out_of_turn_wait() -> None:
    """On a period-0 chain a block is stamped with the current second, already begun: an out-of-turn signer
    must still wait its full rank delay (it raced the in-turn signer when the second's fraction ate it)."""
    assert round_delay(1_000, 1_000.9, 0.5) == 0.5
    assert round_delay(1_000, 1_000.2, 0.0) == 0.0
    assert round_delay(1_002, 1_000.5, 0.5) == 2.0  # a timestamp ahead: its second first, then the rank
