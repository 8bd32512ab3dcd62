"""Follows the chain from the journal's checkpoint, only over blocks that can no longer be reverted."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from hexbytes import HexBytes
from pamchain.sdk.chain.actions import DirectoryAction, action_for
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.events import Event, GenericEvent, ReceiptPosted
from pamchain.sdk.chain.model import Action
from pamchain.sdk.oracle.errors import ChainReorganised, EndpointLies
from pamchain.sdk.oracle.journal import Journal

log = logging.getLogger("pamchain.oracle.follower")


@dataclass(frozen=True, slots=True)
class Finality:
    """Which blocks are final: the node's ``finalized`` tag, or ``confirmations`` blocks under the head."""

    confirmations: int | None = None

    def final_block(self, client: PamClient) -> int:
        if self.confirmations is None:
            return int(client.w3.eth.get_block("finalized")["number"])
        return max(int(client.w3.eth.block_number) - self.confirmations, -1)

    @classmethod
    def parse(cls, value: str | int) -> Finality:
        if value in ("finalized", "tag"):
            return cls(None)
        return cls(int(value))


class ChainView(Protocol):
    """Where the follower reads the chain: the final block, the contract's events, a block's hash."""

    def final_block(self) -> int: ...

    def events(self, first: int, last: int, names: Collection[str] = ()) -> list[Event]:
        """The contract's events in the range (only the events ``names`` when given)."""
        ...

    def block_hash(self, number: int) -> str: ...

    def health(self) -> dict[str, Any]: ...


class TrustedNode:
    """The endpoint's word taken as is (``verify = "none"``: dev chains without Clique seals, such as anvil)."""

    def __init__(self, client: PamClient, finality: Finality = Finality()) -> None:
        self.client = client
        self.finality = finality
        # The hashes the node's final block named when last asked: its own and its parent's. Following the
        # head, those are the two the follower checks next (the new final block, the checkpoint below it),
        # so a poll asks for the final block once instead of three times.
        self._named: dict[int, str] = {}

    def final_block(self) -> int:
        if self.finality.confirmations is not None:
            self._named = {}
            return self.finality.final_block(self.client)
        block = self.client.w3.eth.get_block("finalized")
        number = int(block["number"])
        self._named = {number: HexBytes(block["hash"]).to_0x_hex()}
        if number > 0:
            self._named[number - 1] = HexBytes(block["parentHash"]).to_0x_hex()
        return number

    def events(self, first: int, last: int, names: Collection[str] = ()) -> list[Event]:
        return self.client.events(first, last, names=names)  # by topic0 on the node: its log index

    def block_hash(self, number: int) -> str:
        named = self._named.get(number)
        if named is not None:
            return named
        return HexBytes(self.client.w3.eth.get_block(number)["hash"]).to_0x_hex()

    def health(self) -> dict[str, Any]:
        return {"chain_verification": "none", "endpoint_lies": None, "endpoint_refused": False}


class Follower:
    """Turns the final blocks' events into journalled actions for one domain."""

    def __init__(
        self,
        client: PamClient,
        journal: Journal,
        domain: bytes,
        *,
        start_block: int,
        finality: Finality = Finality(),
        chunk: int = 2000,
        source: ChainView | None = None,
        hold: float = 0.0,
    ) -> None:
        self.client = client
        self.hold = hold  # a standby oracle's delay before it takes over anything but a removal
        self.journal = journal
        self.domain = domain
        self.start_block = start_block
        self.finality = finality
        self.chunk = chunk
        self.final_head = -1
        self.source: ChainView = source if source is not None else TrustedNode(client, finality)
        self.refusal: EndpointLies | None = None

    def poll(self) -> int:
        """Journal every action up to the current final block; returns how many were new.

        An endpoint caught serving data that fails verification is not followed any more: nothing is
        journalled, the error is logged once and shown by :meth:`health` (the daemon's other duties, such
        as removals at expiry from the journal, go on).
        """
        if self.refusal is not None:
            return 0
        try:
            return self._poll()
        except EndpointLies as exc:
            self.refusal = exc
            log.error(
                "RPC endpoint served unverifiable chain data: no longer acting on it",
                extra={"endpoint": exc.endpoint, "block": exc.number, "reason": exc.reason},
            )
            return 0

    def health(self) -> dict[str, Any]:
        return self.source.health()

    def _poll(self) -> int:
        final = self.source.final_block()
        self.final_head = final
        checkpoint = self.journal.checkpoint()
        if checkpoint is not None:
            self._check_checkpoint(*checkpoint)
        done = checkpoint[0] if checkpoint is not None else self.start_block - 1
        # Catching up on history (a new journal, a lost one rebuilt, one restored from a backup, or a long
        # stop): learn first which actions already have a receipt on chain, so that replaying history never
        # applies an old unlock or reset again. Following the head block by block needs no such scan.
        reported = self._receipted(done + 1, final) if checkpoint is None or final - done > 1 else set()
        added = 0
        while done < final:
            upto = min(done + self.chunk, final)
            actions, receipted, enrolled = self._actions(done + 1, upto)
            block_hash = self.source.block_hash(upto)
            added += self.journal.record(
                actions, upto, block_hash, reported=reported | receipted, hold=self.hold, enrolled=enrolled
            )
            log.debug("journalled blocks %d..%d: %d actions", done + 1, upto, len(actions))
            done = upto
        if reported:
            log.info(
                "history replayed against the chain's receipts", extra={"receipted_actions": len(reported)}
            )
        return added

    def _actions(
        self, first: int, last: int
    ) -> tuple[list[DirectoryAction], set[tuple[int, int]], list[bytes]]:
        """This domain's actions in the range, the keys of the receipts posted in it, and the directory ids
        enrolled in it (whose accounts the leaver pass watches)."""
        actions = []
        receipted: set[tuple[int, int]] = set()
        enrolled: list[bytes] = []
        for event in self.source.events(first, last):
            if isinstance(event, ReceiptPosted):
                if event.domain == self.domain:
                    receipted.add(_settled(event))
                continue
            if isinstance(event, GenericEvent) and event.event == "PrincipalEnrolled":
                if bytes(event.args["domain"]) == self.domain:
                    enrolled.append(bytes(event.args["directory_id"]))
                continue
            action = action_for(event)
            if action is not None and action.domain == self.domain:
                actions.append(action)
        receipted.discard(_NOTHING)
        return actions, receipted, enrolled

    def _receipted(self, first: int, last: int) -> set[tuple[int, int]]:
        """The keys of this domain's receipts in the range: only ``ReceiptPosted`` logs are read (the node
        answers them from its log index) and decoded, not the whole history a second time."""
        keys: set[tuple[int, int]] = set()
        for start in range(first, last + 1, self.chunk):
            for event in self.source.events(start, min(start + self.chunk - 1, last), names=_RECEIPTS):
                if isinstance(event, ReceiptPosted) and event.domain == self.domain:
                    keys.add(_settled(event))
        keys.discard(_NOTHING)
        return keys

    def _check_checkpoint(self, number: int, block_hash: str) -> None:
        """A final block never changes; if the checkpoint's hash did, the node is not the chain we followed."""
        if number < 0:
            return
        current = self.source.block_hash(number)
        if current != block_hash:
            raise ChainReorganised(number, block_hash, current)


_NOTHING = (0, 0)
_RECEIPTS = (ReceiptPosted.name,)


def _settled(event: ReceiptPosted) -> tuple[int, int]:
    """The journal key a receipt settles. A removal is never settled by a receipt alone: replayed, it runs
    again as "ensure absent" (idempotent), and the reporter finds its receipt on chain and sends none."""
    if event.action is Action.REMOVE_MEMBER:
        return _NOTHING
    return (event.request_id, int(event.action))
