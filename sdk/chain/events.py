"""Contract logs decoded into the SDK's frozen event records."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pamchain.sdk.chain.abi import ContractAbi, EventAbi, hex_bytes, to_checksum_address
from pamchain.sdk.chain.model import (
    Action,
    AlarmKind,
    EndReason,
    Kind,
    LapseAction,
    LeaverReason,
    Outcome,
    Reviewer,
    ReviewScope,
)


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a log sits in the chain; (block_number, log_index) orders events totally."""

    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True, slots=True)
class Event:
    """Any contract event: its name, its arguments as decoded, and where it was logged."""

    name: ClassVar[str] = ""
    at: LogPosition


@dataclass(frozen=True, slots=True)
class GenericEvent(Event):
    """An event the SDK has no dedicated record for (governance, enrolment, ...)."""

    event: str
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RequestCreated(Event):
    name: ClassVar[str] = "RequestCreated"
    request_id: int
    kind: Kind
    subject: bytes
    target: bytes
    domain: bytes
    requester: str
    duration: int
    deadline: int
    approvals_required: int
    break_glass: bool
    justification_hash: bytes
    ticket_ref: bytes
    payload_hash: bytes


@dataclass(frozen=True, slots=True)
class ApprovalCast(Event):
    name: ClassVar[str] = "ApprovalCast"
    request_id: int
    approver: bytes
    approvals: int
    approvals_required: int


@dataclass(frozen=True, slots=True)
class RequestApproved(Event):
    name: ClassVar[str] = "RequestApproved"
    request_id: int
    kind: Kind
    subject: bytes
    target: bytes
    domain: bytes
    payload_hash: bytes


@dataclass(frozen=True, slots=True)
class GrantActivated(Event):
    name: ClassVar[str] = "GrantActivated"
    request_id: int
    subject: bytes
    target: bytes
    domain: bytes
    start: int
    expiry: int


@dataclass(frozen=True, slots=True)
class GrantEnded(Event):
    name: ClassVar[str] = "GrantEnded"
    request_id: int
    subject: bytes
    target: bytes
    domain: bytes
    reason: EndReason
    by: str


@dataclass(frozen=True, slots=True)
class ReceiptPosted(Event):
    name: ClassVar[str] = "ReceiptPosted"
    request_id: int
    action: Action
    outcome: Outcome
    domain: bytes
    detail_hash: bytes
    dc_id: bytes
    oracle: str


@dataclass(frozen=True, slots=True)
class Alarm(Event):
    name: ClassVar[str] = "Alarm"
    kind: AlarmKind
    domain: bytes
    request_id: int
    target: bytes
    subject: bytes
    detail: bytes


@dataclass(frozen=True, slots=True)
class LeaverReported(Event):
    name: ClassVar[str] = "LeaverReported"
    directory_id: bytes
    domain: bytes
    oracle: str
    reason: LeaverReason
    dc_id: bytes
    # The domain's leaver rule suspended the principal (and ended its grants) in this transaction.
    suspended: bool


@dataclass(frozen=True, slots=True)
class CampaignOpened(Event):
    """PamReviews: the council opened an access-review campaign (its items follow as ReviewItemOpened)."""

    name: ClassVar[str] = "CampaignOpened"
    campaign_id: int
    scope: ReviewScope
    reviewer: Reviewer
    on_lapse: LapseAction
    label: bytes
    deadline: int
    item_count: int
    subjects: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ReviewItemOpened(Event):
    """PamReviews: one item to re-confirm before ``deadline``."""

    name: ClassVar[str] = "ReviewItemOpened"
    campaign_id: int
    principal: bytes
    target: bytes
    item_id: int
    reviewer: Reviewer
    deadline: int


@dataclass(frozen=True, slots=True)
class ReviewItemConfirmed(Event):
    name: ClassVar[str] = "ReviewItemConfirmed"
    campaign_id: int
    principal: bytes
    target: bytes
    item_id: int
    reviewer: bytes


@dataclass(frozen=True, slots=True)
class ReviewItemLapsed(Event):
    """PamReviews: an item nobody re-confirmed; ``suspended`` when this lapse suspended the principal."""

    name: ClassVar[str] = "ReviewItemLapsed"
    campaign_id: int
    principal: bytes
    target: bytes
    item_id: int
    on_lapse: LapseAction
    suspended: bool


@dataclass(frozen=True, slots=True)
class CampaignClosed(Event):
    name: ClassVar[str] = "CampaignClosed"
    campaign_id: int
    confirmed: int
    lapsed: int
    cancelled: bool


TYPED_EVENTS: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        RequestCreated,
        ApprovalCast,
        RequestApproved,
        GrantActivated,
        GrantEnded,
        ReceiptPosted,
        Alarm,
        LeaverReported,
        CampaignOpened,
        ReviewItemOpened,
        ReviewItemConfirmed,
        ReviewItemLapsed,
        CampaignClosed,
    )
}


def _plain(value: Any) -> Any:
    """Decoded values (web3's HexBytes included) to plain Python: bytes, checksummed addresses, ints."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    return value


def _position(log: Mapping[str, Any]) -> LogPosition:
    return LogPosition(
        block_number=_int(log["blockNumber"]),
        block_hash="0x" + hex_bytes(log["blockHash"]).hex(),
        tx_hash="0x" + hex_bytes(log["transactionHash"]).hex(),
        log_index=_int(log["logIndex"]),
    )


def _int(value: int | str) -> int:
    """A quantity as web3 formats it (int) or as JSON-RPC serves it (0x-hex)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def build_event(name: str, args: Mapping[str, Any], at: LogPosition) -> Event:
    """Make the typed record for ``name`` (or a generic one), coercing enums by the record's annotations."""
    plain = {key: _plain(value) for key, value in args.items()}
    cls = TYPED_EVENTS.get(name)
    if cls is None:
        return GenericEvent(at=at, event=name, args=plain)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name == "at":
            continue
        value = plain[field.name]
        enum_type = _ENUM_FIELDS.get(field.type if isinstance(field.type, str) else field.type.__name__)
        values[field.name] = enum_type(value) if enum_type is not None else value
    return cls(at=at, **values)


_ENUM_FIELDS: dict[str, Any] = {
    "Kind": Kind,
    "Action": Action,
    "Outcome": Outcome,
    "EndReason": EndReason,
    "AlarmKind": AlarmKind,
    "LeaverReason": LeaverReason,
    "ReviewScope": ReviewScope,
    "Reviewer": Reviewer,
    "LapseAction": LapseAction,
}


class EventDecoder:
    """Decodes raw logs of a deployment's contracts by address and topic0, using each contract's ABI.

    Takes logs as JSON-RPC serves them (hex strings) or as web3 formats them (bytes, ints) alike.
    """

    def __init__(self, *contracts: tuple[str, ContractAbi]) -> None:
        self._by_address: dict[str, dict[bytes, EventAbi]] = {}
        for address, abi in contracts:
            self._by_address.setdefault(to_checksum_address(address), {}).update(abi.events)

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(self._by_address)

    @property
    def topics(self) -> frozenset[bytes]:
        return frozenset(topic for by_topic in self._by_address.values() for topic in by_topic)

    def topic(self, name: str) -> str:
        """The 0x-hex topic0 of the event ``name`` (a filter for ``eth_getLogs``)."""
        for by_topic in self._by_address.values():
            for topic, event in by_topic.items():
                if event.name == name:
                    return "0x" + topic.hex()
        raise KeyError(f"no event {name!r} in the deployment's ABIs")

    def decode(self, log: Mapping[str, Any]) -> Event | None:
        """Decode one log; None if it is not one of these contracts' events."""
        topics = [hex_bytes(t) for t in log.get("topics") or []]
        by_topic = self._by_address.get(to_checksum_address(log["address"])) if topics else None
        if by_topic is None:
            return None
        event = by_topic.get(topics[0])
        if event is None:
            return None
        args = event.decode(topics, hex_bytes(log["data"]))
        return build_event(event.name, args, _position(log))

    def decode_all(self, logs: Iterable[Mapping[str, Any]], names: Collection[str] = ()) -> list[Event]:
        """Decode a batch of logs (only the events ``names`` when given), in order.

        Each distinct (address, topic0) of the batch is looked up once: a catch-up over thousands of logs
        of a few events parses and checksums each address and topic once, and logs of other contracts or
        events are skipped before any decoding.
        """
        wanted = {bytes.fromhex(self.topic(name)[2:]) for name in names}
        table: dict[tuple[Any, Any], EventAbi | None] = {}
        out: list[Event] = []
        for log in logs:
            topics = log.get("topics")
            if not topics:
                continue
            key = (log["address"], topics[0])
            event = table.get(key, _UNSEEN)
            if event is _UNSEEN:
                topic0 = hex_bytes(key[1])
                by_topic = self._by_address.get(to_checksum_address(key[0]))
                event = (
                    None if by_topic is None or (wanted and topic0 not in wanted) else by_topic.get(topic0)
                )
                table[key] = event
            if event is None:
                continue
            args = event.decode([hex_bytes(t) for t in topics], hex_bytes(log["data"]))
            out.append(build_event(event.name, args, _position(log)))
        return out


_UNSEEN: Any = object()
