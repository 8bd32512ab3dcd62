"""The transaction pool: admission rules, per-sender nonce order, fee replacement, limits and eviction.

Pure bookkeeping over ``PoolTx`` records; account facts come from an ``AccountView`` (head state), so the
rules are unit-testable without a chain. Error messages follow geth's wording, which clients match on.
On a free-gas chain, zero-price transactions from permitted accounts are rationed per account (free_gas.py).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .abc import AccountView
from .errors import AccountNotAllowed, PoolLimitExceeded, TransactionRejected
from .free_gas import GasBudgets
from .records import PoolTx


@dataclass(frozen=True)
class PoolLimits:
    max_tx_size: int = 128 * 1024  # geth's txMaxSize (4 slots of 32 KiB)
    global_slots: int = 16_384
    per_sender: int = 4_096  # high on purpose: a deployer or oracle legitimately bursts thousands
    price_bump_percent: int = 10
    max_nonce_gap: int = 1_024  # refuse nonces this far ahead of the account: they would only squat slots
    # Free gas (docs/node.md): a tip below ``min_gas_price`` makes a transaction zero-price, which only a
    # free-gas chain accepts, and only within these per-account limits (a stolen phone key cannot fill blocks).
    min_gas_price: int = 1  # wei, as geth's txpool.pricelimit
    free_per_sender: int = 64  # pooled transactions of a sender when it sends one more at zero price
    free_gas_burst: int = 60_000_000  # gas a sender may send for free at once (a whole suite deployment)
    free_gas_window: float = 60.0  # seconds to refill that budget: sustained, free_gas_burst per window

    def __post_init__(self) -> None:
        if self.free_gas_burst <= 0 or self.free_gas_window <= 0:
            raise ValueError("the zero-price gas budget needs a positive gas amount and window")
        if self.min_gas_price < 0 or self.free_per_sender < 0:
            raise ValueError("the minimum gas price and the zero-price pending limit cannot be negative")


class TxPool:
    """Pending (executable) and queued (nonce-gapped) transactions, keyed by sender and nonce."""

    def __init__(self, limits: PoolLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or PoolLimits()
        self.free_gas = GasBudgets(self.limits.free_gas_burst, self.limits.free_gas_window, clock)
        self._by_hash: dict[bytes, PoolTx] = {}
        self._by_sender: dict[bytes, dict[int, PoolTx]] = {}
        self._arrival = itertools.count()
        self._order: dict[bytes, int] = {}
        self._queued_cost: dict[bytes, int] = {}  # per sender: the cost of all its pooled transactions
        self._last_nonce: dict[bytes, int] = {}  # per sender: its highest pooled nonce

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> PoolTx | None:
        return self._by_hash.get(tx_hash)

    # ------------------------------------------------------------------------------------------- admission
    def add(self, tx: PoolTx, view: AccountView) -> bytes | None:
        """Admit ``tx`` or raise ``TransactionRejected``. Returns the hash of a replaced tx, if any."""
        limits = self.limits
        if tx.hash in self._by_hash:
            raise TransactionRejected("already known", tx.hash)
        if tx.size > limits.max_tx_size and tx.type != 3:
            raise TransactionRejected(
                f"oversized data: transaction size {tx.size}, limit {limits.max_tx_size}", tx.hash
            )
        if tx.gas > view.block_gas_limit:
            raise TransactionRejected("exceeds block gas limit", tx.hash)
        if tx.tip_cap > tx.fee_cap:
            raise TransactionRejected("max priority fee per gas higher than max fee per gas", tx.hash)
        if not view.is_allowed(tx.sender):
            raise AccountNotAllowed(tx.sender, tx.hash)
        state_nonce = view.nonce(tx.sender)
        if tx.nonce < state_nonce:
            raise TransactionRejected(
                f"nonce too low: next nonce {state_nonce}, tx nonce {tx.nonce}", tx.hash
            )
        queue = self._by_sender.get(tx.sender, {})
        if tx.nonce > state_nonce + limits.max_nonce_gap:
            # Measured from the first nonce the pool cannot fill, so long contiguous bursts are fine.
            expected = self.next_nonce(tx.sender, state_nonce)
            if tx.nonce > expected + limits.max_nonce_gap:
                raise TransactionRejected(
                    f"nonce too high: next nonce {expected}, tx nonce {tx.nonce} (gap limit {limits.max_nonce_gap})",
                    tx.hash,
                )
        old = queue.get(tx.nonce)
        if old is not None:
            bump = 100 + limits.price_bump_percent
            if tx.fee_cap * 100 < old.fee_cap * bump or tx.tip_cap * 100 < old.tip_cap * bump:
                raise TransactionRejected("replacement transaction underpriced", tx.hash)
        # The sender must afford this transaction after every cheaper-nonce one it already has queued.
        balance = view.balance(tx.sender)
        if tx.nonce > self._last_nonce.get(tx.sender, -1):
            committed = self._queued_cost.get(tx.sender, 0)  # the usual case, kept O(1) for long bursts
        else:
            committed = sum(p.cost for n, p in queue.items() if n < tx.nonce)
        if committed + tx.cost > balance:
            raise TransactionRejected(
                f"insufficient funds for gas * price + value: balance {balance}, "
                f"tx cost {tx.cost}, overshot {committed + tx.cost - balance}",
                tx.hash,
            )
        free = tx.tip_cap < limits.min_gas_price
        if free and not view.free_gas:
            raise TransactionRejected(
                f"transaction underpriced: tip {tx.tip_cap} wei per gas, minimum {limits.min_gas_price}",
                tx.hash,
            )
        if old is None:
            if free and len(queue) >= limits.free_per_sender:
                raise PoolLimitExceeded(
                    f"limit exceeded: at most {limits.free_per_sender} pending transactions per account at zero "
                    "gas price; wait for some to be mined",
                    tx.sender,
                    tx.hash,
                )
            if len(queue) >= limits.per_sender:
                raise TransactionRejected("txpool is full for this account", tx.hash)
        if free:
            self._check_free_gas(tx)
        if old is None and len(self._by_hash) >= limits.global_slots:
            self._evict_for(tx)
        if free:
            self.free_gas.take(tx.sender, tx.gas)  # charged once admitted: a refusal costs no budget
        if old is not None:
            self._drop(old)
        self._insert(tx)
        return old.hash if old is not None else None

    def _check_free_gas(self, tx: PoolTx) -> None:
        budgets = self.free_gas
        wait = budgets.wait_for(tx.sender, tx.gas)
        if wait == 0:
            return
        window = f"{budgets.burst} gas per {budgets.window:g} s"
        if math.isinf(wait):
            raise PoolLimitExceeded(
                f"limit exceeded: gas {tx.gas} above the zero-price budget of {window} per account",
                tx.sender,
                tx.hash,
            )
        raise PoolLimitExceeded(
            f"limit exceeded: zero-price gas budget of {window} per account used up; "
            f"{budgets.available(tx.sender)} left, retry in {math.ceil(wait)} s",
            tx.sender,
            tx.hash,
            retry_after=wait,
        )

    def _insert(self, tx: PoolTx) -> None:
        self._by_hash[tx.hash] = tx
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = tx
        self._order[tx.hash] = next(self._arrival)
        self._queued_cost[tx.sender] = self._queued_cost.get(tx.sender, 0) + tx.cost
        self._last_nonce[tx.sender] = max(self._last_nonce.get(tx.sender, -1), tx.nonce)

    def _drop(self, tx: PoolTx) -> None:
        self._by_hash.pop(tx.hash, None)
        self._order.pop(tx.hash, None)
        queue = self._by_sender.get(tx.sender)
        if queue is not None:
            if queue.get(tx.nonce) is tx:
                del queue[tx.nonce]
                self._queued_cost[tx.sender] -= tx.cost
                if queue and tx.nonce == self._last_nonce[tx.sender]:
                    self._last_nonce[tx.sender] = max(queue)
            if not queue:
                del self._by_sender[tx.sender]
                self._queued_cost.pop(tx.sender, None)
                self._last_nonce.pop(tx.sender, None)

    def _evict_for(self, incoming: PoolTx) -> None:
        """Make room by dropping the cheapest highest-nonce transaction of another sender.

        Only a sender's last transaction is a candidate, so eviction never opens a nonce gap.
        """
        tails = [q[max(q)] for s, q in self._by_sender.items() if s != incoming.sender and q]
        if not tails:
            raise TransactionRejected("txpool is full", incoming.hash)
        victim = min(tails, key=lambda p: (p.fee_cap, -self._order[p.hash]))
        if victim.fee_cap >= incoming.fee_cap:
            raise TransactionRejected("txpool is full", incoming.hash)
        self._drop(victim)

    # ---------------------------------------------------------------------------------------- selection
    def executable(
        self, view: AccountView, max_gas: int | None = None, max_count: int | None = None
    ) -> list[PoolTx]:
        """Transactions ready for the next block: per sender in nonce order from the account's nonce,
        across senders by highest tip first (arrival order breaks ties), like geth's price-and-nonce set."""
        heads: list[tuple[int, int, bytes, int]] = []
        for sender, queue in self._by_sender.items():
            nonce = view.nonce(sender)
            first = queue.get(nonce)
            if first is not None:
                heads.append((-first.tip_cap, self._order[first.hash], sender, nonce))
        heapq.heapify(heads)
        chosen: list[PoolTx] = []
        gas = 0
        while heads:
            _tip, _order, sender, nonce = heapq.heappop(heads)
            tx = self._by_sender[sender][nonce]
            if max_gas is not None and gas + tx.gas > max_gas:
                continue  # this sender's chain stops here; others may still fit
            chosen.append(tx)
            gas += tx.gas
            if max_count is not None and len(chosen) >= max_count:
                break
            nxt = self._by_sender[sender].get(nonce + 1)
            if nxt is not None:
                heapq.heappush(heads, (-nxt.tip_cap, self._order[nxt.hash], sender, nonce + 1))
        return chosen

    def has_executable(self, view: AccountView) -> bool:
        return any(view.nonce(s) in q for s, q in self._by_sender.items())

    def next_nonce(self, sender: bytes, state_nonce: int) -> int:
        """The nonce a client should use next (``eth_getTransactionCount(..., "pending")``)."""
        queue = self._by_sender.get(sender, {})
        nonce = state_nonce
        while nonce in queue:
            nonce += 1
        return nonce

    # ---------------------------------------------------------------------------------------- upkeep
    def remove(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            tx = self._by_hash.get(h)
            if tx is not None:
                self._drop(tx)

    def prune(self, view: AccountView, senders: Iterable[bytes] | None = None) -> list[bytes]:
        """After a new head: drop transactions whose nonce is now used (included or replaced on chain)."""
        dropped: list[bytes] = []
        for sender in list(senders if senders is not None else self._by_sender):
            queue = self._by_sender.get(sender)
            if not queue:
                continue
            nonce = view.nonce(sender)
            for n in [n for n in queue if n < nonce]:
                dropped.append(queue[n].hash)
                self._drop(queue[n])
        return dropped

    def split(self, view: AccountView) -> tuple[dict[bytes, list[PoolTx]], dict[bytes, list[PoolTx]]]:
        """(pending, queued) per sender, for ``txpool_status`` / ``txpool_content``."""
        pending: dict[bytes, list[PoolTx]] = {}
        queued: dict[bytes, list[PoolTx]] = {}
        for sender, queue in self._by_sender.items():
            nonce = view.nonce(sender)
            for n in sorted(queue):
                if n == nonce:
                    pending.setdefault(sender, []).append(queue[n])
                    nonce += 1
                else:
                    queued.setdefault(sender, []).append(queue[n])
        return pending, queued
