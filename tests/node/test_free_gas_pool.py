"""Free gas in the txpool, in isolation: zero-price only on a free-gas chain and only from permitted accounts,
pending and gas-per-window limits per account (a fake clock, no waiting), and the gas budget itself."""

from __future__ import annotations

import pytest
from pamchain.node import AccountNotAllowed, PoolLimitExceeded, TransactionRejected
from pamchain.node.free_gas import GasBudgets
from pamchain.node.records import PoolTx
from pamchain.node.txpool import PoolLimits, TxPool

from .test_txpool import A, B, View, tx


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_view() -> View:
    """A free-gas chain where nobody holds any ether."""
    return View(balances={}, free_gas=True)


def free(sender: bytes = A, nonce: int = 0, gas: int = 21_000) -> PoolTx:
    return tx(sender, nonce, fee=0, tip=0, gas=gas)


def test_zero_price__permitted_unfunded_sender_on_free_chain__admitted() -> None:
    pool, view = TxPool(), free_view()
    zero = free()
    pool.add(zero, view)
    assert pool.executable(view) == [zero]


def test_zero_price__chain_without_free_gas__refused_as_underpriced() -> None:
    pool, view = TxPool(), View()
    with pytest.raises(TransactionRejected, match="transaction underpriced: tip 0 wei per gas, minimum 1"):
        pool.add(free(), view)
    assert len(pool) == 0


def test_zero_price__sender_not_permitted__refused() -> None:
    pool, view = TxPool(), free_view()
    view.blocked.add(A)
    with pytest.raises(AccountNotAllowed):
        pool.add(free(), view)
    assert len(pool) == 0


def test_paying_transaction__unfunded_sender_on_free_chain__still_needs_the_funds() -> None:
    pool, view = TxPool(), free_view()
    with pytest.raises(TransactionRejected, match="insufficient funds"):
        pool.add(tx(A, 0, fee=10, tip=1), view)


def test_zero_price__pending_limit_per_account__refused_with_limit_exceeded() -> None:
    pool, view = TxPool(PoolLimits(free_per_sender=3)), free_view()
    for nonce in range(3):
        pool.add(free(nonce=nonce), view)
    with pytest.raises(PoolLimitExceeded, match="at most 3 pending transactions per account") as info:
        pool.add(free(nonce=3), view)
    assert info.value.sender == A and info.value.retry_after is None
    pool.add(free(B, 0), view)  # another account has its own limit
    assert len(pool) == 4


def test_zero_price__replacing_a_pending_one__allowed_at_the_limit_but_charged() -> None:
    clock = Clock()
    pool, view = TxPool(PoolLimits(free_per_sender=1, free_gas_burst=50_000), clock), free_view()
    pool.add(free(nonce=0), view)
    pool.add(free(nonce=0), view)  # same nonce, same (zero) price: a replacement
    assert len(pool) == 1 and pool.free_gas.available(A) == 50_000 - 2 * 21_000
    with pytest.raises(PoolLimitExceeded, match="budget"):  # replacing again and again costs gas each time
        pool.add(free(nonce=0), view)


def test_zero_price__gas_per_window_used_up__refused_then_admitted_after_the_refill() -> None:
    clock = Clock()
    limits = PoolLimits(free_gas_burst=100_000, free_gas_window=100.0)  # 1,000 gas per second
    pool, view = TxPool(limits, clock), free_view()
    for nonce in range(4):
        pool.add(free(nonce=nonce), view)  # 84,000 gas
    with pytest.raises(PoolLimitExceeded, match="retry in 5 s") as info:
        pool.add(free(nonce=4), view)  # 16,000 left, 21,000 asked
    assert info.value.retry_after == pytest.approx(5.0)
    assert pool.free_gas.available(A) == 16_000  # a refusal costs nothing
    pool.add(free(B, 0), view)  # B's budget is its own
    clock.now += 4.9
    with pytest.raises(PoolLimitExceeded):
        pool.add(free(nonce=4), view)
    clock.now += 0.2
    pool.add(free(nonce=4), view)
    assert len(pool) == 6


def test_zero_price__one_transaction_above_the_whole_budget__refused_for_good() -> None:
    pool, view = TxPool(PoolLimits(free_gas_burst=100_000)), free_view()
    with pytest.raises(PoolLimitExceeded, match="gas 150000 above the zero-price budget") as info:
        pool.add(free(gas=150_000), view)
    assert info.value.retry_after is None


def test_paying_transaction__on_free_chain__not_counted_against_free_limits() -> None:
    clock = Clock()
    pool = TxPool(PoolLimits(free_per_sender=1, free_gas_burst=30_000), clock)
    view = View(free_gas=True)  # funded accounts
    pool.add(tx(A, 0, fee=10, tip=1), view)
    pool.add(tx(A, 1, fee=10, tip=1), view)
    assert pool.free_gas.available(A) == 30_000
    with pytest.raises(PoolLimitExceeded, match="at most 1 pending"):
        pool.add(free(nonce=2), view)


@pytest.mark.parametrize(
    "limits",
    [{"free_gas_burst": 0}, {"free_gas_window": 0.0}, {"min_gas_price": -1}, {"free_per_sender": -1}],
)
def test_pool_limits__nonsense_free_gas_settings__refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PoolLimits(**limits)  # type: ignore[arg-type]


def test_gas_budgets__refill_caps_at_the_burst_and_full_buckets_are_forgotten() -> None:
    clock = Clock()
    budgets = GasBudgets(1_000, 10.0, clock)
    assert budgets.take(A, 600) and not budgets.take(A, 600)
    assert budgets.wait_for(A, 600) == pytest.approx(2.0)
    assert budgets.wait_for(A, 1_001) == float("inf")
    clock.now += 1_000
    assert budgets.available(A) == 1_000  # never more than the burst, however long the account was idle
    for i in range(5_000):
        budgets.take(i.to_bytes(20, "big"), 1)
    clock.now += 1_000
    budgets.take(B, 1)  # past the sweep threshold: every refilled bucket is dropped
    assert len(budgets) < 5_000
    with pytest.raises(ValueError):
        GasBudgets(0, 1.0)
