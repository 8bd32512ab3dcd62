"""Follows the chain's final blocks from the notifier's checkpoint and queues the notifications they call for."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from hexbytes import HexBytes
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.events import Event, GenericEvent, LogPosition, RequestCreated
from pamchain.sdk.notify.config import Recipient
from pamchain.sdk.notify.journal import NotifyJournal, RequestInfo
from pamchain.sdk.notify.messages import Notification, notification_id
from pamchain.sdk.notify.routing import Router
from pamchain.sdk.oracle.errors import ChainReorganised
from pamchain.sdk.oracle.follower import Finality
from web3.types import FilterParams

log = logging.getLogger("pamchain.notify.follower")


class NotifyFollower:
    """Reads final blocks in chunks; each chunk's notifications and the checkpoint are journalled together."""

    def __init__(
        self,
        client: PamClient,
        journal: NotifyJournal,
        recipients: Mapping[str, Recipient],
        *,
        officers: tuple[str, ...],
        targets: Mapping[bytes, str],
        start_block: int | None,
        finality: Finality = Finality(),
        chunk: int = 2000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.journal = journal
        self.recipients = recipients
        self.start_block = start_block
        self.finality = finality
        self.chunk = chunk
        self.clock = clock
        self.final_head = -1
        self.unroutable = 0  # notices for people with no entry in [recipients] (logged, not queued)
        self._batch: dict[int, RequestInfo] = {}
        self.router = Router(client, officers=officers, targets=targets, known_request=self._known)

    def poll(self) -> int:
        """Queue every notification up to the current final block; returns how many were new.

        A new journal with no ``start_block`` begins at the current final block: a notifier installed on a
        chain with a history does not page everyone about years of old requests."""
        final = self.finality.final_block(self.client)
        self.final_head = final
        checkpoint = self.journal.checkpoint()
        if checkpoint is not None:
            self._check(*checkpoint)
        elif final < 0:
            return 0  # not one final block yet
        elif self.start_block is None:
            block_hash = HexBytes(self.client.w3.eth.get_block(final)["hash"]).to_0x_hex()
            self.journal.record([], [], final, block_hash, self.clock())
            log.info("new journal: notifying from the current final block on", extra={"block": final})
            return 0
        done = checkpoint[0] if checkpoint is not None else (self.start_block or 0) - 1
        added = 0
        while done < final:
            upto = min(done + self.chunk, final)
            notifications = []
            self._batch = {}
            for event in self._events(done + 1, upto):
                if isinstance(event, RequestCreated):
                    self._batch[event.request_id] = self.router.request_info(event)
                for notice in self.router.notices(event):
                    recipient = self.recipients.get(notice.recipient)
                    if recipient is None:
                        self.unroutable += 1
                        log.info(
                            "no contact for a recipient",
                            extra={"recipient": notice.recipient, "kind": notice.kind},
                        )
                        continue
                    for channel in recipient.channels():
                        notifications.append(
                            Notification(
                                notification_id(notice.event_id, notice.recipient, channel),
                                notice.event_id,
                                notice.kind,
                                notice.recipient,
                                channel,
                                notice.fields,
                            )
                        )
            block_hash = HexBytes(self.client.w3.eth.get_block(upto)["hash"]).to_0x_hex()
            added += self.journal.record(notifications, self._batch.values(), upto, block_hash, self.clock())
            self._batch = {}
            done = upto
        return added

    def _known(self, request_id: int) -> RequestInfo | None:
        return self._batch.get(request_id) or self.journal.request(request_id)

    def _events(self, first: int, last: int) -> list[Event]:
        """The deployment's events in the range; an event whose enum value this SDK does not know (an alarm
        kind added later) is kept as a generic event rather than failing the range."""
        addresses = [self.client.address]
        if self.client.reviews_contract is not None:  # campaigns and their alarms
            addresses.append(self.client.reviews_contract.address)
        params: dict[str, Any] = {"address": addresses, "fromBlock": first, "toBlock": last}
        out: list[Event] = []
        for raw in self.client.w3.eth.get_logs(cast(FilterParams, params)):
            try:
                event = self.client.decoder.decode(raw)
            except ValueError:
                event = _generic(self.client, raw)
            if event is not None:
                out.append(event)
        return out

    def _check(self, number: int, block_hash: str) -> None:
        """A final block never changes; if the checkpoint's hash did, this is not the chain we followed."""
        current = HexBytes(self.client.w3.eth.get_block(number)["hash"]).to_0x_hex()
        if current != block_hash:
            raise ChainReorganised(number, block_hash, current)


def _generic(client: PamClient, raw: Any) -> Event | None:
    topic0 = HexBytes(raw["topics"][0]).to_0x_hex()
    for item in cast(list[dict[str, Any]], client.contract.abi):
        if item.get("type") == "event" and client.decoder.topic(item["name"]) == topic0:
            data = client.contract.events[item["name"]]().process_log(raw)
            at = LogPosition(
                block_number=int(raw["blockNumber"]),
                block_hash=HexBytes(raw["blockHash"]).to_0x_hex(),
                tx_hash=HexBytes(raw["transactionHash"]).to_0x_hex(),
                log_index=int(raw["logIndex"]),
            )
            args = {k: bytes(v) if isinstance(v, bytes | bytearray) else v for k, v in data["args"].items()}
            return GenericEvent(at=at, event=str(data["event"]), args=args)
    return None
