"""The one mapping from an on-chain event to the AD action the oracle must take."""

from __future__ import annotations

from dataclasses import dataclass

from pamchain.sdk.chain.events import Event, GrantActivated, GrantEnded, RequestApproved
from pamchain.sdk.chain.model import Action, Kind


@dataclass(frozen=True, slots=True)
class DirectoryAction:
    """One idempotent AD change: ``(request_id, action)`` is its identity in the journal and on chain."""

    request_id: int
    action: Action
    subject: bytes
    target: bytes
    domain: bytes
    payload_hash: bytes = b""
    expiry: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.request_id, int(self.action))


def action_for(event: Event) -> DirectoryAction | None:
    """What AD must do because of ``event``, or None if the event needs no AD change.

    unlock approved -> UNLOCK; password reset approved -> RESET_PASSWORD; grant activated -> ADD_MEMBER
    (remembering the expiry); grant ended for any reason -> REMOVE_MEMBER.
    """
    if isinstance(event, RequestApproved):
        if event.kind is Kind.UNLOCK:
            return DirectoryAction(event.request_id, Action.UNLOCK, event.subject, event.target, event.domain)
        if event.kind is Kind.PASSWORD_RESET:
            return DirectoryAction(
                event.request_id,
                Action.RESET_PASSWORD,
                event.subject,
                event.target,
                event.domain,
                payload_hash=event.payload_hash,
            )
        return None  # an approved elevation acts through GrantActivated
    if isinstance(event, GrantActivated):
        return DirectoryAction(
            event.request_id,
            Action.ADD_MEMBER,
            event.subject,
            event.target,
            event.domain,
            expiry=event.expiry,
        )
    if isinstance(event, GrantEnded):
        return DirectoryAction(
            event.request_id, Action.REMOVE_MEMBER, event.subject, event.target, event.domain
        )
    return None
