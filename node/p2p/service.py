"""The peer service: listens and dials over mutual TLS 1.3 (``wire``), keeps one authenticated link per
allowlisted node, gossips transactions and sealed blocks to every peer, and hands catch-up to ``sync.Syncer``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Iterable
from typing import Any

import rlp
from eth_utils import keccak

from ..abc import PeerBackend
from ..errors import NodeError
from ..events import Event, Events, NewHead, PeerUp, PendingTransaction
from ..node_rules import NodeRules
from ..sync import BATCH, ImportOutcome, Syncer, SyncState, import_on_chain, serve_blocks_on_chain
from . import wire
from .certificate import TlsIdentity
from .identity import Enode, NodeKey
from .peers import Peer, Penalties, Seen

log = logging.getLogger(__name__)


def _int(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


class P2PService:
    """One per node. ``start()`` binds the listener and begins dialling the bootnodes."""

    def __init__(
        self,
        node: PeerBackend,
        key: NodeKey,
        host: str,
        port: int,
        bootnodes: Iterable[Enode] = (),
        rules: NodeRules | None = None,
        limits: wire.LinkLimits | None = None,
        *,
        events: Events | None = None,
    ) -> None:
        self.node = node
        self.events = events or Events()
        self.key = key
        self.host = host
        self.port = port
        self.rules = rules  # None: any node may peer
        self.bootnodes: dict[bytes, Enode] = {e.node_id: e for e in bootnodes if e.node_id != key.node_id}
        self.banned: set[bytes] = set()
        self.penalties = Penalties()  # peers that misbehaved, refused for a cool-off
        self.peers: dict[bytes, Peer] = {}
        self.limits = limits or wire.LinkLimits()
        self.refused = 0  # inbound/outbound links refused by the allowlist or a bad handshake
        self.identity = TlsIdentity.create(key)
        self.syncer = Syncer(node, self._after_import, self._drop_misbehaving)
        self._seen_blocks = Seen()
        self._seen_txs = Seen()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._dialing: set[bytes] = set()
        self._stopping = False

    # ----------------------------------------------------------------------------------------- lifecycle
    @property
    def genesis(self) -> bytes:
        return self.node.chain.genesis_hash

    @property
    def enode(self) -> Enode:
        return Enode(self.key.node_id, self.host, self.port)

    def allowed(self, node_id: bytes) -> bool:
        if node_id in self.banned or node_id == self.key.node_id:
            return False
        return self.rules is None or self.rules.allowed(node_id)

    def _admit(self, node_id: bytes) -> bool:
        """The handshake's check: allowlisted, and not cooling off after misbehaving (said in the refusal)."""
        refusal = self.penalties.refusal(node_id)
        if refusal is not None:
            raise wire.HandshakeError(refusal)
        return self.allowed(node_id)

    async def _enforce_rules(self) -> None:
        """Close the links of peers the node rules no longer allow (the council removed their site)."""
        for peer in list(self.peers.values()):
            if not self.allowed(peer.node_id):
                self.refused += 1
                log.warning("dropping peer %s: no longer in the node allowlist", peer.node_id.hex()[:12])
                with contextlib.suppress(Exception):
                    await peer.session.close("not in the node allowlist")

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.host,
            self.port,
            ssl=self.identity.server_context,
            ssl_handshake_timeout=self.limits.handshake_timeout,
            limit=2**16,
        )
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])
        self._spawn(self._dial_loop())
        # Peers first: propagation latency is what other validators wait on.
        self.events.subscribe(self.on_event, first=True)
        log.info("p2p listening as %s", self.enode)

    async def stop(self) -> None:
        self._stopping = True
        self.events.unsubscribe(self.on_event)
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for peer in list(self.peers.values()):
            with contextlib.suppress(Exception):
                await peer.session.close("node stopping")
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -------------------------------------------------------------------------------------- connections
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A dialer whose TLS handshake completed (asyncio bounds that by ``handshake_timeout``)."""
        peername = writer.get_extra_info("peername")
        address = f"{peername[0]}:{peername[1]}" if peername else "?"
        try:
            session = await wire.respond(reader, writer, self.genesis, self._admit, self.limits)
        except wire.HandshakeError as exc:
            self.refused += 1
            log.warning("inbound link from %s refused: %s", address, exc)
            return
        except Exception:  # a bug here must not take the listener down with it
            self.refused += 1
            log.exception("inbound link from %s failed", address)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # so that stop() ends inbound links as it ends outbound ones
        try:
            await self._run_peer(session, address)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _dial_loop(self) -> None:
        delays: dict[bytes, float] = {}
        due: dict[bytes, float] = {}
        while not self._stopping:
            now = time.monotonic()
            if self.rules is not None:
                await self._enforce_rules()
            for node_id, enode in list(self.bootnodes.items()):
                if node_id in self.peers or node_id in self._dialing or not self.allowed(node_id):
                    continue
                if self.penalties.refusal(node_id) is not None:
                    continue
                if due.get(node_id, 0) > now:
                    continue
                delay = min(self.limits.redial_max, max(self.limits.redial_min, delays.get(node_id, 0) * 2))
                delays[node_id] = delay
                due[node_id] = now + delay * random.uniform(0.8, 1.2)
                self._dialing.add(node_id)
                self._spawn(self._dial(enode, delays))
            await asyncio.sleep(0.2)

    async def _dial(self, enode: Enode, delays: dict[bytes, float]) -> None:
        """One attempt. Whatever the listener does (nothing, garbage, a wrong certificate), the attempt ends
        within ``handshake_timeout`` and the node goes back to the dial loop's backoff."""
        try:
            try:
                session = await wire.initiate(
                    enode.host,
                    enode.port,
                    self.identity,
                    self.genesis,
                    enode.node_id,
                    self._admit,
                    self.limits,
                )
            except wire.Unreachable as exc:
                log.debug("dial %s failed: %s", enode, exc)
                return
            except wire.HandshakeError as exc:
                self.refused += 1
                log.warning("outbound link to %s refused: %s", enode, exc)
                return
            except Exception:  # a bug must not stop redialling this validator
                self.refused += 1
                log.exception("dial %s failed", enode)
                return
        finally:
            self._dialing.discard(enode.node_id)
        delays[enode.node_id] = 0
        await self._run_peer(session, f"{enode.host}:{enode.port}")

    def _keep(self, new: wire.Session) -> bool:
        """Two nodes dialling each other at once end up with one link: the one the lower id dialled."""
        old = self.peers.get(new.remote_id)
        if old is None:
            return True
        i_am_lower = self.key.node_id < new.remote_id
        new_good = i_am_lower == new.initiator
        old_good = i_am_lower == old.session.initiator
        return new_good or not old_good  # same direction twice: a reconnection, the new link wins

    async def _run_peer(self, session: wire.Session, address: str) -> None:
        if not self._keep(session):
            await session.close("duplicate link")
            return
        old = self.peers.get(session.remote_id)
        peer = Peer(session, address)
        self.peers[session.remote_id] = peer
        if old is not None:
            await old.session.close("duplicate link")
        session.start()
        short = session.remote_id.hex()[:12]
        log.info("peer up: %s at %s (%d peers)", short, address, len(self.peers))
        self.events.publish(PeerUp(len(self.peers)))
        reason = "closed by peer"
        try:
            await peer.send(wire.STATUS, await self._status())
            while not self._stopping:
                message = await session.recv()
                if message is None:
                    if session.remote_reason:
                        reason = f"peer said: {session.remote_reason!r}"
                    break
                code, payload = message
                try:
                    await self._handle(peer, code, payload)
                except (rlp.exceptions.DecodingError, ValueError, IndexError, TypeError) as exc:
                    reason = f"bad message {code}: {type(exc).__name__}"
                    await self._drop_misbehaving(peer, reason)
                    break
        except wire.PeerMisbehaved as exc:
            reason = exc.reason
            await self._drop_misbehaving(peer, reason)
        except (ConnectionError, OSError) as exc:
            reason = f"link error: {type(exc).__name__}"
        finally:
            if self.peers.get(session.remote_id) is peer:
                del self.peers[session.remote_id]
                log.info("peer down: %s (%s; %d peers)", short, reason, len(self.peers))
            await session.close()

    def ban(self, node_id: bytes) -> None:
        """Drop the link to ``node_id`` and refuse it until ``unban`` (operators; partition tests)."""
        self.banned.add(node_id)
        peer = self.peers.get(node_id)
        if peer is not None:
            self._spawn(peer.session.close("removed by the operator"))

    def unban(self, enode: Enode) -> None:
        self.banned.discard(enode.node_id)
        if enode.node_id != self.key.node_id:
            self.bootnodes[enode.node_id] = enode

    # ---------------------------------------------------------------------------------------- messages
    async def _status(self) -> bytes:
        def read() -> bytes:
            chain = self.node.chain
            head = chain.head_record()
            status: bytes = rlp.encode(
                [head.number, head.hash, chain.total_difficulty(head), chain.finalized_number()]
            )
            return status

        return await self.node.on_chain(read)

    async def _handle(self, peer: Peer, code: int, payload: bytes) -> None:
        if code == wire.STATUS:
            number, head_hash, td, _finalized = rlp.decode(payload)
            self._update_peer(peer, _int(number), bytes(head_hash), _int(td))
            if await self.syncer.worth_syncing(peer):
                self._spawn(self.syncer.sync_from(peer))
        elif code == wire.TXS:
            raws = [bytes(r) for r in rlp.decode(payload)]
            self._spawn(self._on_txs(peer, raws))
        elif code == wire.NEW_BLOCK:
            raw, td = rlp.decode(payload)
            self._spawn(self._on_new_block(peer, bytes(raw), _int(td)))
        elif code == wire.GET_BLOCKS:
            rid, start, count = (_int(x) for x in rlp.decode(payload))
            blocks = await self.node.on_chain(lambda: serve_blocks_on_chain(self.node, start, count))
            await peer.send(wire.BLOCKS, rlp.encode([rid, blocks]))
        elif code == wire.BLOCKS:
            rid, blocks = rlp.decode(payload)
            peer.resolve(_int(rid), [bytes(b) for b in blocks])
        else:
            log.debug("unknown message %s from %s", code, peer.node_id.hex()[:12])

    @staticmethod
    def _update_peer(peer: Peer, number: int, head_hash: bytes, td: int) -> None:
        if td >= peer.td:
            peer.td, peer.head_number, peer.head_hash = td, number, head_hash

    async def _on_new_block(self, peer: Peer, raw: bytes, td: int) -> None:
        block_hash = keccak(rlp.encode(rlp.decode(raw)[0]))
        if not self._seen_blocks.add(block_hash):
            return
        number = _int(rlp.decode(raw)[0][8])
        self._update_peer(peer, number, block_hash, td)
        outcome = await self.node.on_chain(lambda: import_on_chain(self.node, [raw]))
        if outcome.unknown_parent:
            self._seen_blocks.pop(block_hash, None)  # let it in again once we have its ancestors
            self._spawn(self.syncer.sync_from(peer))
            return
        if outcome.error:
            if outcome.fork:  # a branch off our finalized chain (a healed partition): not the peer's fault
                log.warning("block from %s refused: %s", peer.node_id.hex()[:12], outcome.error)
            else:
                await self._drop_misbehaving(peer, f"sent an invalid block: {outcome.error}")
            return
        if outcome.imported:
            await self._after_import(outcome)
            await self._broadcast(wire.NEW_BLOCK, rlp.encode([raw, td]), exclude=peer.node_id)

    async def _drop_misbehaving(self, peer: Peer, reason: str) -> None:
        """An invalid block, a sync that goes nowhere, a malformed message or a broken limit: the link is
        closed and the peer refused for a cool-off that doubles with each offence (``peers.py``)."""
        cool_off = self.penalties.punish(peer.node_id, reason)
        log.warning("dropping peer %s for %.0f s: %s", peer.node_id.hex()[:12], cool_off, reason)
        await peer.session.close(reason[:120])

    async def _after_import(self, outcome: ImportOutcome) -> None:
        for _number, block_hash in outcome.imported:
            self._seen_blocks.add(block_hash)
        if outcome.head_changed:
            head = self.node.chain.head_record()
            self.events.publish(NewHead(head.number, head.hash, local=False))

    async def _on_txs(self, peer: Peer, raws: list[bytes]) -> None:
        fresh = [r for r in raws if self._seen_txs.add(keccak(r))]
        if not fresh:
            return

        def admit() -> list[bytes]:
            accepted = []
            for raw in fresh:
                try:
                    self.node.core.submit(raw, local=False)
                    accepted.append(raw)
                except NodeError as exc:
                    log.debug("gossiped tx refused: %s", exc)
            return accepted

        accepted = await self.node.on_chain(admit)
        if accepted:  # RPC subscribers heard of them through the events; peers get them from here
            await self._broadcast(wire.TXS, rlp.encode(accepted), exclude=peer.node_id)

    async def _broadcast(self, code: int, payload: bytes, exclude: bytes | None = None) -> None:
        peers = [p for nid, p in self.peers.items() if nid != exclude]
        if peers:
            await asyncio.gather(*(p.send(code, payload) for p in peers))

    # ------------------------------------------------------------------------------------ from the node
    def on_event(self, event: Event) -> None:
        """What this node sealed or was sent over RPC goes to every peer (what peers sent is relayed above)."""
        if isinstance(event, PeerUp) or not event.local:
            return
        if isinstance(event, NewHead):
            self._spawn(_logged(self.announce_block(event.hash), f"announcing block {event.number}"))
        elif isinstance(event, PendingTransaction):
            self._spawn(_logged(self.gossip_tx(event.tx_hash), "gossiping a transaction"))

    async def announce_block(self, block_hash: bytes) -> None:
        """A block this node sealed: send it to every peer."""
        self._seen_blocks.add(block_hash)

        def read() -> bytes:
            chain = self.node.chain
            message: bytes = rlp.encode(
                [chain.raw_block(block_hash), chain.total_difficulty(chain.header_by_hash(block_hash))]
            )
            return message

        await self._broadcast(wire.NEW_BLOCK, await self.node.on_chain(read))

    async def gossip_tx(self, tx_hash: bytes) -> None:
        """A transaction submitted over this node's RPC: send it to every peer."""
        pooled = await self.node.on_chain(lambda: self.node.core.pool.get(tx_hash))
        if pooled is None:
            return
        self._seen_txs.add(keccak(pooled.raw))
        await self._broadcast(wire.TXS, rlp.encode([pooled.raw]))

    @property
    def sync_status(self) -> SyncState:
        return self.syncer.state

    @property
    def node_id(self) -> bytes:
        return self.key.node_id

    def add_peer(self, address: str) -> None:
        """``admin_addPeer``: allow ``address`` again and dial it."""
        self.unban(Enode.parse(address))

    def remove_peer(self, address: str) -> None:
        """``admin_removePeer``: drop the link and refuse the node until ``add_peer``."""
        self.ban(Enode.parse(address).node_id)

    def peer_info(self) -> list[dict[str, Any]]:
        return [
            {
                "id": nid.hex(),
                "enode": _enode_text(nid, p.address),
                "network": {"remoteAddress": p.address, "inbound": not p.session.initiator},
                "protocols": {
                    "pamchain": {"head": "0x" + p.head_hash.hex(), "number": p.head_number, "td": p.td}
                },
            }
            for nid, p in self.peers.items()
        ]


async def _logged(work: Awaitable[None], what: str) -> None:
    try:
        await work
    except Exception:
        log.exception("%s failed", what)


def _enode_text(node_id: bytes, address: str) -> str:
    host, _, port = address.rpartition(":")
    return str(Enode(node_id, host, int(port))) if port.isdigit() else node_id.hex()


__all__ = ["BATCH", "P2PService", "Peer"]
