"""What a notification says: the record journalled per (event, recipient, channel) and its text and JSON forms.

Messages carry ids, request numbers, kinds and target names only: no justification, no address, no secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What each kind of notice is called in an e-mail's subject line.
TITLES = {
    "approval_needed": "Request {request_id} awaits your decision",
    "request_approved": "Request {request_id} approved",
    "request_denied": "Request {request_id} denied",
    "request_expired": "Request {request_id} expired undecided",
    "grant_active": "Request {request_id}: access granted",
    "grant_ended": "Request {request_id}: access ended",
    "receipt": "Request {request_id}: {action} {outcome}",
    "review_needed": "Access review {campaign_id}: {items} item(s) to re-confirm",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing one recipient must hear about one event; ``fields`` are JSON-safe and non-secret."""

    event_id: str  # "<block hash>:<log index>": the chain position of the event, the same on every node
    kind: str
    recipient: str  # a directory id (0x-hex) or a key of [recipients]
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A notice bound to a channel, as journalled; ``id`` is the receiver's idempotency key."""

    id: str
    event_id: str
    kind: str
    recipient: str
    channel: str
    fields: Mapping[str, Any]
    attempts: int = 0


def notification_id(event_id: str, recipient: str, channel: str) -> str:
    """A stable id per (event, recipient, channel): a receiver that sees it twice drops the second copy."""
    return hashlib.sha256(f"{event_id}|{recipient}|{channel}".encode()).hexdigest()[:32]


def as_json(notification: Notification) -> bytes:
    """The webhook body: a flat JSON object, keys sorted, so that its signature is reproducible."""
    document = {
        "id": notification.id,
        "event_id": notification.event_id,
        "kind": notification.kind,
        "recipient": notification.recipient,
        **notification.fields,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def subject_line(notification: Notification) -> str:
    if notification.kind == "alarm":
        fields = notification.fields
        about = [f"request {fields['request_id']}"] if "request_id" in fields else []
        about += [str(fields[k]) for k in ("target", "reason", "dc") if k in fields]
        return f"[pamchain] ALARM {fields.get('alarm', '?')}" + (f" ({', '.join(about)})" if about else "")
    template = TITLES.get(notification.kind, "pamchain: {kind}")
    values = {"kind": notification.kind, "request_id": "?", **notification.fields}
    try:
        return "[pamchain] " + template.format(**values)
    except (KeyError, IndexError):
        return f"[pamchain] {notification.kind}"


def text_body(notification: Notification) -> str:
    """The e-mail body: one ``name: value`` line per field, and where to act."""
    lines = [subject_line(notification).removeprefix("[pamchain] "), ""]
    lines += [f"{key}: {value}" for key, value in sorted(notification.fields.items())]
    lines += ["", f"notification id: {notification.id}", f"event: {notification.event_id}", ""]
    if notification.kind == "approval_needed":
        lines.append("Open the pamchain app to approve or deny it.")
    if notification.kind == "review_needed":
        lines.append(
            "Open the pamchain app (Reviews) or run `pamchain review list --mine` to re-confirm them."
        )
    return "\n".join(lines) + "\n"
