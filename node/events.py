"""The node's one event path: new pending transactions and new heads, fanned out to RPC subscribers and peers.

Like geth's ``event.Feed``: the publisher never waits for a subscriber. Handlers run on the node's event loop,
in subscription order, and must not block: one that has slow work to do (a chain read, a send to a peer)
starts a task of its own. The chain thread publishes through ``publish_threadsafe``; the event is then handled
before the chain-thread job's caller resumes (both go through the loop's queue, the event first), so an RPC
filter sees a transaction before ``eth_sendRawTransaction`` answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingTransaction:
    """A transaction entered the pool. ``local``: submitted to this node (RPC), not received from a peer."""

    tx_hash: bytes
    raw: bytes
    local: bool = True


@dataclass(frozen=True)
class NewHead:
    """The canonical head moved. ``local``: a block this node sealed, not one imported from a peer."""

    number: int
    hash: bytes
    local: bool = True


@dataclass(frozen=True)
class PeerUp:
    """A link to a peer came up; ``peers``: how many the node has now."""

    peers: int


Event = PendingTransaction | NewHead | PeerUp
Handler = Callable[[Event], None]


class Events:
    """Publish/subscribe for ``Event``s; bound to the loop that runs the node (``bind``)."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, handler: Handler, *, first: bool = False) -> None:
        """Call ``handler`` for every event; ``first``: before the handlers already subscribed."""
        if first:
            self._handlers.insert(0, handler)
        else:
            self._handlers.append(handler)

    def unsubscribe(self, handler: Handler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every handler (on the loop thread); a failing handler does not stop the others."""
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %r", handler, event)

    def publish_threadsafe(self, event: Event) -> None:
        """``publish`` from another thread (the chain thread); dropped when no loop is bound (offline tools)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.publish, event)
