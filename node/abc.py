"""Interfaces between the node's layers: what each layer needs from the one below, so none imports ``Node``.

``service.Node`` implements every protocol here; the txpool sees accounts through ``AccountView``, sealing
and sync run chain work through ``ChainRunner``, the RPC API reads through ``RpcBackend`` and the p2p service
through ``PeerBackend``. Layers: ``service`` -> ``rpc`` / ``p2p`` -> core (``chain``, ``txpool``, ``core``,
``sealing``, ``sync``) -> ``consensus`` -> ``storage`` (docs/architecture.md). This module sits between the
chain and the rest of core: it may name ``Chain`` (a type), never ``NodeCore`` or anything above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .records import PoolTx

if TYPE_CHECKING:
    from .chain import CallReader, Chain
    from .genesis import Genesis

_T = TypeVar("_T")


class AccountView(Protocol):
    """What the txpool needs to know about accounts, as of the head (the parent of the next block)."""

    def nonce(self, sender: bytes) -> int: ...

    def balance(self, sender: bytes) -> int: ...

    def is_allowed(self, sender: bytes) -> bool: ...

    @property
    def block_gas_limit(self) -> int:
        """Most gas one block may use (the gas target on a zero-base-fee chain)."""
        ...

    @property
    def free_gas(self) -> bool:
        """Whether permitted accounts may send zero-price transactions (a zero-base-fee chain)."""
        ...


class ChainRunner(Protocol):
    """Runs work on the chain thread (every py-evm and SQLite operation, in order) from the event loop."""

    async def on_chain(self, fn: Callable[[], _T]) -> _T: ...


class Pool(Protocol):
    """The txpool as RPC and sync read it (``txpool.TxPool``)."""

    def get(self, tx_hash: bytes) -> PoolTx | None: ...

    def next_nonce(self, sender: bytes, state_nonce: int) -> int: ...

    def split(self, view: AccountView) -> tuple[dict[bytes, list[PoolTx]], dict[bytes, list[PoolTx]]]: ...

    def remove(self, hashes: Iterable[bytes]) -> None: ...

    def prune(self, view: AccountView, senders: Iterable[bytes] | None = None) -> list[bytes]: ...

    def __len__(self) -> int: ...


class Core(Protocol):
    """Admission and the pool (``core.NodeCore``), as the layers above it use them (chain thread only, but
    ``prepare``: any thread)."""

    @property
    def chain(self) -> Chain: ...

    @property
    def pool(self) -> Pool: ...

    @property
    def proposals(self) -> dict[bytes, bool]: ...

    def view(self) -> AccountView: ...

    def prepare(self, raw: bytes) -> Any: ...

    def submit(self, raw: bytes, local: bool = True, prepared: Any = None) -> bytes: ...

    def admit(self, raw: bytes, prepared: Any = None) -> bytes: ...


class SyncStatus(Protocol):
    """For ``eth_syncing`` (``sync.SyncState``)."""

    active: bool
    starting_block: int
    highest_block: int


class PeerNetwork(Protocol):
    """What RPC reads of and asks from the p2p service (``p2p.service.P2PService``)."""

    @property
    def peers(self) -> Mapping[bytes, Any]: ...

    @property
    def sync_status(self) -> SyncStatus: ...

    @property
    def enode(self) -> Any: ...

    @property
    def node_id(self) -> bytes: ...

    def peer_info(self) -> list[dict[str, Any]]: ...

    def add_peer(self, address: str) -> None:
        """Allow and dial ``pamchain://<id>@host:port`` (raises NodeError when it does not parse)."""
        ...

    def remove_peer(self, address: str) -> None:
        """Drop and refuse the node at ``address`` (raises NodeError when it does not parse)."""
        ...


class SyncBackend(ChainRunner, Protocol):
    """What block import and catch-up sync need: the chain, the pool, the chain thread."""

    @property
    def chain(self) -> Chain: ...

    @property
    def core(self) -> Core: ...


class PeerBackend(SyncBackend, Protocol):
    """What the p2p service needs from the node (the same as sync; events come in its constructor)."""


class RpcBackend(SyncBackend, Protocol):
    """What the JSON-RPC API reads: chain, pool, genesis, peers, and the threads to read them on."""

    @property
    def genesis(self) -> Genesis: ...

    @property
    def suggested_tip(self) -> int: ...

    @property
    def p2p(self) -> PeerNetwork | None: ...

    async def off_chain(self, fn: Callable[[CallReader], _T]) -> _T: ...
