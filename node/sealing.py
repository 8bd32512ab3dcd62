"""Block production: on demand, every period, or - with peers - Clique rounds in which the in-turn signer
usually wins; every sealed block is published as a ``NewHead`` event.

One networked round: if this node's signer may seal the next block (authorized, not within the
recently-signed limit) and there is a reason to seal (executable transactions, ``allow_empty``, or
transactions in blocks that are not final yet - empty blocks are what carries them to finality; on a period-0
chain sealing on demand those come at once, ``seal_step``), wait until
the block's timestamp plus, when out of turn, half a second per signer ahead of it in the rotation among those
allowed to seal (``consensus.seal_delay``: a stand-in for a barred in-turn signer seals at once); a new head
arriving meanwhile restarts the round on it.

Nothing in the path from a transaction to its block waits on a timer: a pending transaction wakes the
producer, which seals at once unless the chain's rule forbids it yet - the Clique period since the head (a
block every ``period`` seconds), or, on a chain whose timestamps must strictly increase, a burst that has run
``MAX_SEAL_AHEAD`` seconds ahead of the clock - and then sleeps exactly until the moment it may.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import consensus
from .abc import ChainRunner
from .core import MAX_SEAL_AHEAD, NodeCore
from .events import Event, Events, NewHead, PeerUp
from .records import SealedBlock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    head_hash: bytes
    head_number: int
    head_timestamp: int
    can_seal: bool
    pending_txs: bool
    # blocks past the newest not-yet-final one with transactions (None: all final)
    unfinalized_depth: int | None
    epoch: int  # FFG checkpoint spacing in blocks
    signers: tuple[bytes, ...]
    barred: frozenset[bytes]  # recently signed: may not seal the next block

    @property
    def unfinalized_txs(self) -> bool:
        return self.unfinalized_depth is not None


# On a Clique period-0 chain, an on-demand signer seals the empty blocks that carry a transaction to finality at
# once too (FFG needs 2 to 3 epochs of blocks by different signers after it), not a period apart: with 3
# validators a request is final in some 6 blocks' time instead of 4-6 seconds. Only while finality keeps up: past
# this many epochs without it (signers missing, a signer set grown past what the checkpoint spacing finalizes),
# it falls back to one block a period, so a stall never turns into a storm of empty blocks.
FAST_FINALITY_EPOCHS = 4


def seal_step(plan: Plan, on_demand: bool, timestamp_step: int, period: int) -> int:
    """The least gap, in seconds, between the head's timestamp and the next block's: the chain's own step
    (0 on a period-0 chain) for transactions sealed on demand and for the blocks finalizing them, else the
    producer's period."""
    if not on_demand:
        return period
    if plan.pending_txs:
        return timestamp_step
    depth = plan.unfinalized_depth
    if depth is not None and depth < FAST_FINALITY_EPOCHS * plan.epoch:
        return timestamp_step
    return period


def round_delay(timestamp: int, now: float, rank_delay: float) -> float:
    """Seconds to wait before sealing a block stamped ``timestamp``: until that second has come, then the
    out-of-turn delay on top. A timestamp already past (period 0: the current second) must not eat into the rank
    delay, or out-of-turn signers would race the in-turn one for most of every second."""
    return max(timestamp - now, 0.0) + rank_delay


def plan_on_chain(core: NodeCore) -> Plan:
    chain = core.chain
    head = chain.head_record()
    assert core.signer is not None
    return Plan(
        head_hash=head.hash,
        head_number=head.number,
        head_timestamp=head.timestamp,
        can_seal=chain.can_seal(core.signer.address),
        pending_txs=core.has_work(),
        unfinalized_depth=chain.unfinalized_depth(),
        epoch=chain.finality_epoch,
        signers=tuple(chain.signers()),
        barred=chain.recently_signed(),
    )


class Producer:
    """The production loop of one node (``start``/``stop`` on its event loop); ``seal_now`` for tests."""

    def __init__(
        self,
        core: NodeCore,
        runner: ChainRunner,
        events: Events,
        *,
        seal_mode: str,
        period: int,
        allow_empty: bool,
        networked: bool,
        on_sealed: Callable[[SealedBlock], None] = lambda sealed: None,
        peers: Callable[[], int] = lambda: 0,
    ) -> None:
        self.core = core
        self.runner = runner
        self.events = events
        self.seal_mode = seal_mode
        self.period = period
        self.allow_empty = allow_empty
        self.networked = networked
        self.on_sealed = on_sealed
        self.peers = peers
        self._alone_logged = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work = asyncio.Event()
        self._change = asyncio.Event()  # new head, new transaction or stop: wakes the network producer
        self._stopped = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------- lifecycle
    def listen(self) -> None:
        """Take wake-ups (new transactions, heads from peers) from now on, before anything can submit."""
        self._loop = asyncio.get_running_loop()
        self._work = asyncio.Event()
        self._change = asyncio.Event()
        self._stopped = asyncio.Event()
        self.core.on_pending = self.wake_from_chain_thread
        self.events.subscribe(self.on_event)

    def start(self) -> None:
        """Start the production loop (unless the seal mode is ``none``)."""
        if self._loop is None:
            self.listen()
        if self.seal_mode != "none":
            self._task = asyncio.create_task(self._produce(), name="pamchain-producer")

    def request_stop(self) -> None:
        """Seal no new block from now on (``stop`` then waits for the loop)."""
        self._stopping = True
        self._work.set()
        self._change.set()
        self._stopped.set()

    async def stop(self) -> None:
        """Stop producing; an in-flight seal completes and commits."""
        self.events.unsubscribe(self.on_event)
        self.request_stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on_event(self, event: Event) -> None:
        """A block from a peer changed the head, or a peer came up: restart the production round."""
        if (isinstance(event, NewHead) and not event.local) or isinstance(event, PeerUp):
            self._change.set()

    def wake_from_chain_thread(self) -> None:
        if self._loop is not None and self.networked:
            self._loop.call_soon_threadsafe(self._change.set)
        if self._loop is not None and self.seal_mode in ("on-demand", "period"):
            self._loop.call_soon_threadsafe(self._work.set)

    async def wait_for_change(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True if a new head, a transaction or stop came first."""
        self._change.clear()
        try:
            await asyncio.wait_for(self._change.wait(), max(timeout, 0))
        except TimeoutError:
            return self._stopping
        return True

    async def seal_now(self, allow_empty: bool = True) -> SealedBlock | None:
        sealed = await self.runner.on_chain(lambda: self.core.seal(allow_empty=allow_empty))
        if sealed is not None:
            self._published(sealed)
        return sealed

    def _published(self, sealed: SealedBlock) -> None:
        self.on_sealed(sealed)
        log.debug("sealed #%s with %s txs", sealed.number, len(sealed.tx_hashes))
        self.events.publish(NewHead(sealed.number, sealed.hash, local=True))

    # ------------------------------------------------------------------------------------------- loops
    async def _produce(self) -> None:
        while not self._stopping:
            try:
                if self.networked:
                    sealed = await self.produce_round()
                    if sealed is not None:
                        self._published(sealed)
                elif self.seal_mode == "on-demand":
                    await self._produce_on_demand()
                else:
                    await self._produce_periodic()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sealing failed")
                await asyncio.sleep(0.5)

    async def produce_round(self) -> SealedBlock | None:
        """One production round for a node with peers; returns the block it sealed, if any."""
        core = self.core
        plan = await self.runner.on_chain(lambda: plan_on_chain(core))
        on_demand = self.seal_mode == "on-demand"
        want = plan.pending_txs or self.allow_empty or plan.unfinalized_txs
        if not plan.can_seal or not want:
            await self.wait_for_change(self.period)
            return None
        if len(plan.signers) > 1 and self.peers() == 0:
            # Alone, a signer's blocks can never be final (a majority of signers must build on them); sealing
            # them anyway only races the others' blocks when the links come up, which is how honest nodes
            # came to finalize conflicting blocks (docs/network.md). A peer coming up restarts the round.
            if not self._alone_logged:
                log.info("not sealing: %d signers and no peer connected yet", len(plan.signers))
                self._alone_logged = True
            await self.wait_for_change(self.period)
            return None
        self._alone_logged = False
        assert core.signer is not None
        signer = core.signer.address
        # On demand, transactions and the blocks finalizing them go out at once (period 0: in the head's second
        # if need be); everything else keeps the period.
        step = seal_step(plan, on_demand, core.chain.timestamp_step, self.period)
        timestamp = max(plan.head_timestamp + step, int(time.time()))
        rank_delay = consensus.seal_delay(plan.signers, signer, plan.head_number + 1, plan.barred)
        delay = round_delay(timestamp, time.time(), rank_delay)
        if delay > 0 and await self.wait_for_change(delay):
            return None  # a new head (or stop) arrived first: plan again on top of it

        def seal() -> SealedBlock | None:
            if core.chain.head_record().hash != plan.head_hash or not core.chain.can_seal(signer):
                return None
            return core.seal(allow_empty=True, timestamp=timestamp)

        sealed = await self.runner.on_chain(seal)
        if sealed is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.sleep(0.05)
        return sealed

    async def _produce_on_demand(self) -> None:
        timeout = self.period if self.allow_empty else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()
        if self._stopping:
            return
        sealed = await self.runner.on_chain(lambda: self.core.seal(allow_empty=self.allow_empty))
        if sealed is not None:
            self._published(sealed)
        if await self.runner.on_chain(self.core.has_work):
            if sealed is None:
                # A burst ahead of the clock (timestamps strictly increasing): sleep until the head's
                # timestamp is back within MAX_SEAL_AHEAD. Never on a period-0 chain, which keeps the clock.
                head_ts = await self.runner.on_chain(lambda: self.core.chain.head_record().timestamp)
                await self._sleep(max(head_ts + 1 - MAX_SEAL_AHEAD - time.time(), 0.001))
            self._work.set()

    async def _produce_periodic(self) -> None:
        """One block ``period`` seconds after the head, as soon as a transaction is pending (every period
        with ``allow_empty``); no polling: a pending transaction wakes this."""
        self._work.clear()
        if not self.allow_empty and not await self.runner.on_chain(self.core.has_work):
            await self._work.wait()
            if self._stopping:
                return
        head_ts = await self.runner.on_chain(lambda: self.core.chain.head_record().timestamp)
        target = head_ts + self.period
        await self._sleep(target - time.time())  # the Clique period, to the second it allows
        if self._stopping:
            return
        ts = max(target, int(time.time()))
        sealed = await self.runner.on_chain(
            lambda: self.core.seal(allow_empty=self.allow_empty, timestamp=ts)
        )
        if sealed is not None:
            self._published(sealed)
        elif not self._stopping:
            # Pending but not executable (a nonce gap): the next transaction or the next period wakes this.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), max(self.period, 1))

    async def _sleep(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if the producer is stopped."""
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)
