"""Txpool rules in isolation: admission errors, nonce gaps, replacement, limits and eviction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from pamchain.node import AccountNotAllowed, TransactionRejected
from pamchain.node.records import PoolTx
from pamchain.node.txpool import PoolLimits, TxPool

_ids = itertools.count(1)
A, B, C = b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 20


@dataclass
class View:
    nonces: dict[bytes, int] = field(default_factory=dict)
    balances: dict[bytes, int] = field(default_factory=lambda: {A: 10**20, B: 10**20, C: 10**20})
    blocked: set[bytes] = field(default_factory=set)
    block_gas_limit: int = 30_000_000
    free_gas: bool = False

    def nonce(self, sender: bytes) -> int:
        return self.nonces.get(sender, 0)

    def balance(self, sender: bytes) -> int:
        return self.balances.get(sender, 0)

    def is_allowed(self, sender: bytes) -> bool:
        return sender not in self.blocked


def tx(
    sender: bytes = A,
    nonce: int = 0,
    fee: int = 100,
    tip: int = 10,
    gas: int = 21_000,
    value: int = 0,
    size: int = 120,
) -> PoolTx:
    return PoolTx(
        hash=next(_ids).to_bytes(32, "big"),
        sender=sender,
        nonce=nonce,
        gas=gas,
        fee_cap=fee,
        tip_cap=tip,
        cost=value + gas * fee,
        size=size,
        raw=b"",
        type=2,
        evm=None,
    )


def test_nonce_gap_is_held_until_filled() -> None:
    pool, view = TxPool(), View()
    t1, t0 = tx(nonce=1), tx(nonce=0)
    pool.add(t1, view)
    assert pool.executable(view) == []
    assert pool.split(view)[1] == {A: [t1]}
    pool.add(t0, view)
    assert pool.executable(view) == [t0, t1]
    assert pool.next_nonce(A, 0) == 2


@pytest.mark.parametrize(
    ("make", "view_change", "message"),
    [
        (lambda: tx(nonce=0), {"nonces": {A: 3}}, "nonce too low: next nonce 3, tx nonce 0"),
        (lambda: tx(nonce=5000), {}, "nonce too high"),
        (lambda: tx(value=10**21), {}, "insufficient funds for gas * price + value"),
        (lambda: tx(gas=40_000_000), {}, "exceeds block gas limit"),
        (lambda: tx(fee=10, tip=20), {}, "max priority fee per gas higher than max fee per gas"),
        (lambda: tx(size=200_000), {}, "oversized data"),
    ],
)
def test_rejections_carry_geth_messages(make, view_change, message) -> None:
    view = View(**view_change) if view_change else View()
    with pytest.raises(TransactionRejected, match=message.replace("*", r"\*").replace("+", r"\+")):
        TxPool().add(make(), view)


def test_not_allowed_sender_is_rejected_with_its_own_error() -> None:
    with pytest.raises(AccountNotAllowed) as info:
        TxPool().add(tx(sender=C), View(blocked={C}))
    assert info.value.sender == C


def test_already_known() -> None:
    pool, view, t = TxPool(), View(), tx()
    pool.add(t, view)
    with pytest.raises(TransactionRejected, match="already known"):
        pool.add(t, view)


def test_cumulative_balance_counts_earlier_nonces() -> None:
    pool, view = TxPool(), View(balances={A: 21_000 * 100 * 2})
    pool.add(tx(nonce=0), view)
    pool.add(tx(nonce=1), view)
    with pytest.raises(TransactionRejected, match="insufficient funds"):
        pool.add(tx(nonce=2), view)


def test_replacement_needs_ten_percent_bump() -> None:
    pool, view = TxPool(), View()
    old = tx(fee=100, tip=10)
    pool.add(old, view)
    with pytest.raises(TransactionRejected, match="replacement transaction underpriced"):
        pool.add(tx(fee=109, tip=11), view)
    with pytest.raises(TransactionRejected, match="replacement transaction underpriced"):
        pool.add(tx(fee=200, tip=10), view)  # the tip must rise too
    new = tx(fee=110, tip=11)
    assert pool.add(new, view) == old.hash
    assert old.hash not in pool and pool.executable(view) == [new]


def test_per_sender_limit() -> None:
    pool, view = TxPool(PoolLimits(per_sender=2)), View()
    pool.add(tx(nonce=0), view)
    pool.add(tx(nonce=1), view)
    with pytest.raises(TransactionRejected, match="txpool is full for this account"):
        pool.add(tx(nonce=2), view)


def test_global_limit_evicts_cheapest_tail_of_another_sender() -> None:
    pool, view = TxPool(PoolLimits(global_slots=3)), View()
    b0, b1 = tx(B, 0, fee=50, tip=1), tx(B, 1, fee=40, tip=1)
    c0 = tx(C, 0, fee=60, tip=1)
    for t in (b0, b1, c0):
        pool.add(t, view)
    with pytest.raises(TransactionRejected, match="txpool is full"):
        pool.add(tx(A, 0, fee=30, tip=1), view)  # cheaper than every tail
    rich = tx(A, 0, fee=100, tip=1)
    pool.add(rich, view)
    assert b1.hash not in pool and b0.hash in pool  # B's tail went; no nonce gap was opened
    assert len(pool) == 3


def test_ordering_by_tip_across_senders_and_nonce_within() -> None:
    pool, view = TxPool(), View()
    a0, a1 = tx(A, 0, tip=5), tx(A, 1, tip=50)
    b0 = tx(B, 0, tip=20)
    for t in (a0, a1, b0):
        pool.add(t, view)
    assert pool.executable(view) == [b0, a0, a1]
    assert pool.executable(view, max_gas=21_000 * 2) == [b0, a0]
    assert pool.executable(view, max_count=1) == [b0]


def test_prune_after_block() -> None:
    pool, view = TxPool(), View()
    a0, a1 = tx(A, 0), tx(A, 1)
    pool.add(a0, view)
    pool.add(a1, view)
    view.nonces[A] = 1
    assert pool.prune(view) == [a0.hash]
    assert pool.executable(view) == [a1]
