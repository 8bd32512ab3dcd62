"""What a node keeps about its peers: the link and its claimed head (``Peer``), the hashes already gossiped
(``Seen``), and the cool-off of those that misbehaved (``Penalties``).

Peers that misbehaved are kept away for a while: the sender of an invalid block, of a sync that goes
nowhere, of an oversized or malformed message, or of more messages than the rate limit is disconnected and
refused (inbound and outbound) for a cool-off that doubles with each offence, up to ``LONGEST``.

Offences are forgotten after ``FORGET`` seconds without one, so an honest validator that once sent something
we refused (a bug, a clock far off) comes back on its own; an attacker holding an allowlisted key gets one
attempt per cool-off instead of one per reconnect. Kept in memory: a restart forgives, as it should for an
operator who fixed the cause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import rlp

from . import wire

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0


class Seen(OrderedDict[bytes, None]):
    """Bounded set of hashes already handled, so gossip floods stop after one hop per node."""

    def __init__(self, size: int = 32_768) -> None:
        super().__init__()
        self._size = size

    def add(self, key: bytes) -> bool:
        """True if ``key`` is new."""
        if key in self:
            return False
        self[key] = None
        if len(self) > self._size:
            self.popitem(last=False)
        return True


@dataclass
class Peer:
    session: wire.Session
    address: str  # host:port as seen (remote end of the socket) or dialled
    td: int = 0
    head_number: int = 0
    head_hash: bytes = b""
    connected_at: float = field(default_factory=time.time)
    _next_id: int = 0
    _pending: dict[int, asyncio.Future[list[bytes]]] = field(default_factory=dict)

    @property
    def node_id(self) -> bytes:
        return self.session.remote_id

    async def send(self, code: int, payload: bytes) -> bool:
        try:
            await self.session.send(code, payload)
            return True
        except (ConnectionError, OSError, RuntimeError) as exc:
            log.debug("send to %s failed: %s", self.node_id.hex()[:12], exc)
            return False

    async def get_blocks(self, start: int, count: int) -> list[bytes]:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            if not await self.send(wire.GET_BLOCKS, rlp.encode([rid, start, count])):
                return []
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            return []
        finally:
            self._pending.pop(rid, None)

    def resolve(self, rid: int, blocks: list[bytes]) -> None:
        future = self._pending.get(rid)
        if future is not None and not future.done():
            future.set_result(blocks)


FIRST = 10.0  # seconds refused after a first offence ...
LONGEST = 600.0  # ... doubling per offence up to this
FORGET = 3600.0  # offences older than this no longer count


@dataclass
class _Record:
    offences: int
    until: float
    last: float
    reason: str


class Penalties:
    def __init__(
        self,
        first: float = FIRST,
        longest: float = LONGEST,
        forget: float = FORGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.first, self.longest, self.forget, self.clock = first, longest, forget, clock
        self._records: dict[bytes, _Record] = {}

    def punish(self, node_id: bytes, reason: str) -> float:
        """Record an offence by ``node_id``; returns the cool-off in seconds."""
        now = self.clock()
        record = self._records.get(node_id)
        offences = 1 if record is None or now - record.last > self.forget else record.offences + 1
        cool_off: float = min(self.longest, self.first * 2.0 ** (offences - 1))
        self._records[node_id] = _Record(offences, now + cool_off, now, reason)
        return cool_off

    def refusal(self, node_id: bytes) -> str | None:
        """Why ``node_id`` is refused now, or None when it may link."""
        record = self._records.get(node_id)
        if record is None:
            return None
        now = self.clock()
        if now >= record.until:
            if now - record.last > self.forget:
                del self._records[node_id]
            return None
        return f"cooling off for {record.until - now:.0f} s after: {record.reason[:80]}"

    def offences(self, node_id: bytes) -> int:
        record = self._records.get(node_id)
        return 0 if record is None else record.offences
