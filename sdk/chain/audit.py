"""The auditor's view of a deployment: its history as flat rows (CSV/JSON), grants and receipts as records.

History is rebuilt from the chain's events through any :class:`ChainReads` (the typed client or the lean
reader), so anyone holding the chain (or a node's JSON-RPC) gets the same answer; :mod:`chain_check` verifies the chain itself.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pamchain.sdk.chain.events import (
    Event,
    GenericEvent,
    GrantActivated,
    GrantEnded,
    ReceiptPosted,
    RequestCreated,
)
from pamchain.sdk.chain.model import EndReason
from pamchain.sdk.chain.reader import ChainReads

CHUNK_BLOCKS = 2_000  # eth_getLogs range per call: small enough for any node's limits

# Event name -> what an auditor calls it; GrantEnded is split by its reason below.
CATEGORIES: dict[str, str] = {
    "RequestCreated": "request",
    "ApprovalCast": "approval",
    "RequestApproved": "approval",
    "RequestDenied": "denial",
    "RequestCancelled": "request",
    "RequestExpired": "request",
    "GrantActivated": "grant",
    "ReceiptPosted": "receipt",
    "Alarm": "alarm",
    "DriftReported": "alarm",
    "PrincipalSuspended": "suspension",
    "LeaverReported": "leaver",
}
_END_CATEGORY = {
    EndReason.EXPIRED: "expiry",
    EndReason.REVOKED: "revocation",
    EndReason.SUSPENDED: "suspension",
}

CSV_COLUMNS = (
    "block_number",
    "block_time",
    "timestamp",
    "tx_hash",
    "log_index",
    "category",
    "event",
    "request_id",
    "details",
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One event as an auditor reads it: where and when, what, and its arguments as text."""

    block_number: int
    block_time: str  # ISO 8601, UTC
    timestamp: int
    tx_hash: str
    log_index: int
    category: str
    event: str
    request_id: int | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """An elevation's grant as the events tell it; ``state`` is ``active``, ``expired`` or ``ended``."""

    request_id: int
    subject: bytes
    target: bytes
    domain: bytes
    start: int
    expiry: int
    state: str
    end_reason: str | None
    activated_block: int
    ended_block: int | None


@dataclass(frozen=True, slots=True)
class ReceiptRecord:
    """An oracle receipt and the transaction that posted it."""

    request_id: int
    action: str
    outcome: str
    domain: bytes
    dc_id: bytes
    oracle: str
    detail_hash: bytes
    block_number: int
    tx_hash: str


def _text(value: Any) -> Any:
    """Event argument values as spreadsheet- and JSON-friendly scalars."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value


def event_args(event: Event) -> tuple[str, dict[str, Any]]:
    """An event's name and its arguments (typed or generic) as plain values."""
    if isinstance(event, GenericEvent):
        return event.event, {k: _text(v) for k, v in event.args.items()}
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "at"}
    return type(event).name, {k: _text(v) for k, v in fields.items()}


def iter_events(
    client: ChainReads,
    from_block: int,
    to_block: int | None = None,
    *,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """The deployment's events in chain order, fetched in block chunks (``on_chunk`` gets blocks done)."""
    last = client.block_number() if to_block is None else to_block
    start = from_block
    while start <= last:
        end = min(start + CHUNK_BLOCKS - 1, last)
        yield from client.events(start, end)
        if on_chunk is not None:
            on_chunk(end - start + 1)
        start = end + 1


class _BlockTimes:
    """Block number -> timestamp, one RPC per block that holds an event."""

    def __init__(self, client: ChainReads) -> None:
        self.client = client
        self._cache: dict[int, int] = {}

    def __call__(self, number: int) -> int:
        if number not in self._cache:
            self._cache[number] = self.client.block_timestamp(number)
        return self._cache[number]


def audit_rows(events: Iterable[Event], client: ChainReads) -> list[AuditRow]:
    """Every event as an :class:`AuditRow` with its block time."""
    times = _BlockTimes(client)
    rows = []
    for event in events:
        name, args = event_args(event)
        category = CATEGORIES.get(name, "governance")
        if isinstance(event, GrantEnded):
            category = _END_CATEGORY.get(event.reason, "grant")
        request_id = args.pop("request_id", None)
        timestamp = times(event.at.block_number)
        rows.append(
            AuditRow(
                block_number=event.at.block_number,
                block_time=datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                timestamp=timestamp,
                tx_hash=event.at.tx_hash,
                log_index=event.at.log_index,
                category=category,
                event=name,
                request_id=int(request_id) if request_id is not None else None,
                details=args,
            )
        )
    return rows


def rows_to_csv(rows: Iterable[AuditRow]) -> str:
    """CSV a spreadsheet opens as is: fixed columns, ``details`` as ``key=value; ...``, CRLF line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        details = "; ".join(f"{k}={_cell(v)}" for k, v in row.details.items())
        writer.writerow(
            [
                row.block_number,
                row.block_time,
                row.timestamp,
                row.tx_hash,
                row.log_index,
                row.category,
                row.event,
                "" if row.request_id is None else row.request_id,
                details,
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


def rows_to_json(rows: Iterable[AuditRow]) -> str:
    return json.dumps([row.as_dict() for row in rows], indent=2) + "\n"


def grant_records(events: Iterable[Event], now: int) -> list[GrantRecord]:
    """Grants from ``GrantActivated``/``GrantEnded``; a grant past its expiry reads ``expired`` even unrecorded."""
    grants: dict[int, GrantRecord] = {}
    for event in events:
        if isinstance(event, GrantActivated):
            state = "active" if now < event.expiry else "expired"
            grants[event.request_id] = GrantRecord(
                event.request_id,
                event.subject,
                event.target,
                event.domain,
                event.start,
                event.expiry,
                state,
                None,
                event.at.block_number,
                None,
            )
        elif isinstance(event, GrantEnded) and event.request_id in grants:
            grants[event.request_id] = dataclasses.replace(
                grants[event.request_id],
                state="ended",
                end_reason=event.reason.name,
                ended_block=event.at.block_number,
            )
    return list(grants.values())


def receipt_records(events: Iterable[Event]) -> list[ReceiptRecord]:
    return [
        ReceiptRecord(
            e.request_id,
            e.action.name,
            e.outcome.name,
            e.domain,
            e.dc_id,
            e.oracle,
            e.detail_hash,
            e.at.block_number,
            e.at.tx_hash,
        )
        for e in events
        if isinstance(e, ReceiptPosted)
    ]


def request_ids(events: Iterable[Event]) -> list[int]:
    return [e.request_id for e in events if isinstance(e, RequestCreated)]


__all__ = [
    "CSV_COLUMNS",
    "AuditRow",
    "GrantRecord",
    "ReceiptRecord",
    "audit_rows",
    "event_args",
    "grant_records",
    "iter_events",
    "receipt_records",
    "request_ids",
    "rows_to_csv",
    "rows_to_json",
]
