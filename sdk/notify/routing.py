"""Who hears of what: an on-chain event becomes notices to approvers, the requester or the security officers.

| event | told | notice |
|---|---|---|
| RequestCreated (needing approvals) | the policy's active approvers, never the requester | approval_needed |
| RequestApproved / RequestDenied / RequestExpired | the requester | request_approved / _denied / _expired |
| GrantActivated / GrantEnded | the requester | grant_active / grant_ended |
| ReceiptPosted | the requester | receipt |
| Alarm (any kind, known or not; LEAVER says the reason and the DC; PamReviews raises REVIEW_LAPSED) | every security officer | alarm |
| CampaignOpened (PamReviews) | each active reviewer of its items, once per campaign | review_needed |
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.events import (
    Alarm,
    CampaignOpened,
    Event,
    GenericEvent,
    GrantActivated,
    GrantEnded,
    ReceiptPosted,
    RequestApproved,
    RequestCreated,
)
from pamchain.sdk.chain.model import (
    PASSWORD_RESET_TARGET,
    UNLOCK_TARGET,
    Action,
    AlarmKind,
    EndReason,
    ItemStatus,
    Kind,
    LeaverReason,
    Outcome,
    PrincipalStatus,
    Reviewer,
    Status,
    ticket_text,
)
from pamchain.sdk.errors import SdkError
from pamchain.sdk.notify.journal import RequestInfo
from pamchain.sdk.notify.messages import Notice

log = logging.getLogger("pamchain.notify.routing")

_BUILTIN_TARGETS = {UNLOCK_TARGET: "unlock", PASSWORD_RESET_TARGET: "password-reset"}
_DECISIONS = {"RequestDenied": "request_denied", "RequestExpired": "request_expired"}


def event_id(event: Event) -> str:
    """The event's place in the chain, the same on every node once final."""
    return f"{event.at.block_hash}:{event.at.log_index}"


def id_key(directory_id: bytes) -> str:
    """A directory id as the [recipients] table spells it."""
    return "0x" + bytes(directory_id).hex()


def _name(enum_type: Any, value: int) -> str:
    try:
        return str(enum_type(int(value)).name)
    except ValueError:
        return f"KIND_{int(value)}"  # a kind a later contract added: still delivered, by number


def _label(raw: bytes) -> str:
    """A bytes32 label written as ASCII (a DC name such as ``DC1``), else its hex."""
    text = bytes(raw).rstrip(b"\x00")
    if text and all(32 <= c < 127 for c in text):
        return text.decode("ascii")
    return id_key(raw)


class Router:
    """Turns one event into the notices it calls for; reads a policy's approver set from the chain."""

    def __init__(
        self,
        client: PamClient,
        *,
        officers: Sequence[str],
        targets: Mapping[bytes, str],
        known_request: Callable[[int], RequestInfo | None],
    ) -> None:
        self.client = client
        self.officers = tuple(officers)
        self.targets = {**_BUILTIN_TARGETS, **targets}
        self.known_request = known_request

    def target_name(self, target: bytes) -> str:
        return self.targets.get(bytes(target), id_key(target))

    def request_info(self, event: RequestCreated) -> RequestInfo:
        return RequestInfo(event.request_id, event.subject, event.target, int(event.kind))

    def notices(self, event: Event) -> list[Notice]:
        if isinstance(event, RequestCreated):
            return self._approvers(event)
        if isinstance(event, CampaignOpened):
            return self._reviewers(event)
        if isinstance(event, Alarm):
            return self._alarm(
                event, int(event.kind), event.request_id, event.target, event.subject, event.detail
            )
        if isinstance(event, GenericEvent) and event.event == "Alarm":
            a = event.args
            return self._alarm(
                event,
                int(a["kind"]),
                int(a["request_id"]),
                bytes(a["target"]),
                bytes(a["subject"]),
                bytes(a["detail"]),
            )
        if isinstance(event, RequestApproved):
            return self._requester(event, "request_approved", event.request_id)
        if isinstance(event, GenericEvent) and event.event in _DECISIONS:
            return self._requester(event, _DECISIONS[event.event], int(event.args["request_id"]))
        if isinstance(event, GrantActivated):
            return self._requester(
                event, "grant_active", event.request_id, start=event.start, expiry=event.expiry
            )
        if isinstance(event, GrantEnded):
            return self._requester(
                event, "grant_ended", event.request_id, reason=_name(EndReason, event.reason)
            )
        if isinstance(event, ReceiptPosted):
            return self._requester(
                event,
                "receipt",
                event.request_id,
                action=_name(Action, event.action),
                outcome=_name(Outcome, event.outcome),
            )
        return []

    def _approvers(self, event: RequestCreated) -> list[Notice]:
        if event.approvals_required == 0:
            return []  # self-service: nothing to decide
        if self.client.status(event.request_id) is not Status.PENDING:
            return []  # decided, cancelled or expired before this block was followed (catching up): too late
        try:
            approvers = self.client.policy(event.target).approvers
        except SdkError as exc:
            log.warning(
                "no approver set for a request", extra={"request_id": event.request_id, "error": str(exc)}
            )
            return []
        fields = {
            "request_id": event.request_id,
            "request_kind": _name(Kind, event.kind),
            "target": self.target_name(event.target),
            "requester": id_key(event.subject),
            "approvals_required": event.approvals_required,
            "deadline": event.deadline,
            "break_glass": event.break_glass,
        }
        # Only those who can decide: never the requester (even if the policy lists them), nor a suspended one.
        return [
            Notice(event_id(event), "approval_needed", id_key(a), fields)
            for a in dict.fromkeys(approvers)
            if bytes(a) != bytes(event.subject) and self._active(a)
        ]

    def _reviewers(self, event: CampaignOpened) -> list[Notice]:
        """One notice per reviewer of the campaign, with how many items wait for them: the principals themselves
        (self-attestation) or the approvers of each item's policy, never a principal about itself, nor anyone
        suspended."""
        try:
            campaign = self.client.campaign(event.campaign_id)
            items = self.client.review_items(event.campaign_id)
        except SdkError as exc:
            log.warning(
                "campaign items unreadable", extra={"campaign_id": event.campaign_id, "error": str(exc)}
            )
            return []
        if campaign.closed or int(self.client.w3.eth.get_block("latest")["timestamp"]) >= campaign.deadline:
            return []  # over before this block was followed (catching up): too late to ask anyone
        counts: dict[bytes, int] = {}
        approvers: dict[bytes, tuple[bytes, ...]] = {}
        for item in items:
            if item.status is not ItemStatus.PENDING:
                continue
            if event.reviewer is Reviewer.SELF:
                reviewers: tuple[bytes, ...] = (item.principal,)
            else:
                if item.target not in approvers:
                    approvers[item.target] = self.client.policy(item.target).approvers
                reviewers = tuple(a for a in approvers[item.target] if bytes(a) != bytes(item.principal))
            for reviewer in reviewers:
                counts[bytes(reviewer)] = counts.get(bytes(reviewer), 0) + 1
        fields = {
            "campaign_id": event.campaign_id,
            "label": ticket_text(event.label),
            "deadline": event.deadline,
            "reviewer": event.reviewer.name,
            "on_lapse": event.on_lapse.name,
        }
        return [
            Notice(event_id(event), "review_needed", id_key(reviewer), {**fields, "items": count})
            for reviewer, count in counts.items()
            if self._active(reviewer)
        ]

    def _active(self, directory_id: bytes) -> bool:
        return self.client.principal(directory_id).status is PrincipalStatus.ACTIVE

    def _requester(self, event: Event, kind: str, request_id: int, **extra: Any) -> list[Notice]:
        info = self._info(request_id)
        if info is None:
            return []
        fields = {
            "request_id": request_id,
            "request_kind": _name(Kind, info.kind),
            "target": self.target_name(info.target),
            **extra,
        }
        return [Notice(event_id(event), kind, id_key(info.subject), fields)]

    def _alarm(
        self, event: Event, kind: int, request_id: int, target: bytes, subject: bytes, detail: bytes
    ) -> list[Notice]:
        fields: dict[str, Any] = {"alarm": _name(AlarmKind, kind), "alarm_kind": kind}
        if request_id:
            fields["request_id"] = request_id
        if kind == AlarmKind.LEAVER:
            fields["reason"] = _name(LeaverReason, int.from_bytes(target, "big"))  # a leaver's target: why
        elif any(target):
            fields["target"] = self.target_name(target)
        if any(subject):
            fields["subject"] = id_key(subject)  # the grantee's id, a drifted member's keyed hash, the leaver
        if kind in (AlarmKind.DRIFT, AlarmKind.REMOVAL_LATE, AlarmKind.LEAVER) and any(detail):
            fields["dc"] = _label(detail)  # these alarms carry the reporting DC; break-glass a hash, left out
        return [Notice(event_id(event), "alarm", officer, fields) for officer in self.officers]

    def _info(self, request_id: int) -> RequestInfo | None:
        info = self.known_request(request_id)
        if info is not None:
            return info
        try:  # a request created before the notifier's first block: ask the chain
            request = self.client.request(request_id)
        except SdkError:
            log.warning("event of an unknown request", extra={"request_id": request_id})
            return None
        return RequestInfo(request_id, request.subject, request.target, int(request.kind))
