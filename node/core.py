"""The node's synchronous core: chain + txpool + signer, everything that must run on the one chain thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_keys import keys
from eth_keys.datatypes import PrivateKey
from eth_typing import Address

from . import consensus
from .chain import Chain, PreparedTx
from .errors import NodeError
from .events import Events, PendingTransaction
from .records import SealedBlock
from .txpool import TxPool

# How far ahead of this node's clock it may seal (timestamps must strictly increase, so a burst of blocks in
# one second runs ahead). Kept small because grants are timed by block timestamps: a grant can outlast its
# approved duration by at most this much. Importing tolerates more (consensus.MAX_FUTURE_DRIFT, as geth does).
MAX_SEAL_AHEAD = 2
MIN_TX_GAS = 21_000  # the least gas a transaction uses: bounds how many can go in one block

log = logging.getLogger(__name__)


class HeadView:
    """``AccountView`` over the head state: the parent of the next block, which is what admission judges."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._header = chain.head_record()

    def nonce(self, sender: bytes) -> int:
        return self._chain.nonce(sender, self._header)

    def balance(self, sender: bytes) -> int:
        return self._chain.balance(sender, self._header)

    def is_allowed(self, sender: bytes) -> bool:
        return self._chain.is_allowed(sender, self._header)

    @property
    def block_gas_limit(self) -> int:
        return self._chain.gas_budget(self._header)

    @property
    def free_gas(self) -> bool:
        return self._chain.genesis.zero_base_fee


@dataclass
class Signer:
    address: Address
    key: PrivateKey

    @classmethod
    def from_private_key(cls, secret: bytes) -> Signer:
        key = keys.PrivateKey(secret)
        return cls(Address(key.public_key.to_canonical_address()), key)


class NodeCore:
    """Admission and sealing; callers guarantee single-threaded use."""

    def __init__(
        self, chain: Chain, pool: TxPool, signer: Signer | None, events: Events | None = None
    ) -> None:
        self.chain = chain
        self.pool = pool
        self.signer = signer
        self.events = events or Events()  # unbound (no loop): offline tools publish to nobody
        self.on_pending: Callable[[], None] = lambda: None  # wakes the producer (any thread)
        self.proposals: dict[bytes, bool] = {}  # clique_propose: subject -> add (True) / drop (False)

    def view(self) -> HeadView:
        return HeadView(self.chain)

    def prepare(self, raw: bytes) -> PreparedTx:
        """Decode a raw transaction and recover its sender (the costly, stateless part of admission) on any
        thread, so that the chain thread does not; raises TransactionRejected. Pass the result to ``submit``."""
        return self.chain.prepare_transaction(raw)

    def submit(self, raw: bytes, local: bool = True, prepared: PreparedTx | None = None) -> bytes:
        """Pool a raw transaction (``admit``) and announce it (``PendingTransaction``); returns its hash.

        ``local``: submitted to this node; False when it came from a peer (the p2p service relays those).
        ``prepared``: ``prepare(raw)``'s result, when it was done beside the chain thread."""
        tx_hash = self.admit(raw, prepared)
        self.events.publish_threadsafe(PendingTransaction(tx_hash, raw, local))
        return tx_hash

    def admit(self, raw: bytes, prepared: PreparedTx | None = None) -> bytes:
        """Decode, validate and pool a raw transaction without announcing it (re-injection after a reorg);
        returns its hash or raises TransactionRejected."""
        tx = self.chain.admissible(prepared) if prepared is not None else self.chain.decode_transaction(raw)
        self.pool.add(tx, self.view())
        self.on_pending()
        return tx.hash

    def seal(self, allow_empty: bool = False, timestamp: int | None = None) -> SealedBlock | None:
        """Seal one block from whatever is executable now; ``None`` if there was nothing to seal."""
        if self.signer is None:
            raise NodeError("this node has no signer key: it cannot seal")
        if self.signer.address not in self.chain.signers():
            raise NodeError(f"0x{self.signer.address.hex()} is not an authorized Clique signer")
        head = self.chain.head_record()
        view = self.view()
        # Candidates, not the block: the builder packs by gas used, so more may fit than their gas limits say.
        txs = self.pool.executable(view, max_count=self.chain.gas_budget(head) // MIN_TX_GAS)
        if not txs and not allow_empty:
            return None
        ts = max(
            timestamp if timestamp is not None else int(time.time()),
            head.timestamp + self.chain.timestamp_step,
        )
        if ts > time.time() + MAX_SEAL_AHEAD:
            return None  # bursting ahead of the clock; the producer retries once time catches up
        vote = consensus.choose_vote(self.proposals, self.chain.signers(head)) if self.proposals else None
        started = time.perf_counter()
        result = self.chain.build_block(txs, self.signer.address, self.signer.key, timestamp=ts, vote=vote)
        self.pool.remove(result.included)
        self.pool.remove(h for h, _ in result.dropped)
        for tx_hash, reason in result.dropped:
            log.info("dropped 0x%s from the pool: %s", tx_hash.hex(), reason)
        self.pool.prune(self.view(), {t.sender for t in txs})
        return SealedBlock(
            number=result.number,
            hash=result.hash,
            timestamp=result.timestamp,
            tx_hashes=result.included,
            dropped=result.dropped,
            seconds=time.perf_counter() - started,
        )

    def has_work(self) -> bool:
        return self.pool.has_executable(self.view())
