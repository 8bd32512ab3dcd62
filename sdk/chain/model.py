"""The SDK's own view of on-chain state: enums mirroring the contract constants and frozen records."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pamchain.sdk.chain.abi import keccak

UNLOCK_TARGET = keccak(text="pamchain:unlock")
PASSWORD_RESET_TARGET = keccak(text="pamchain:password-reset")
ZERO32 = b"\x00" * 32
REQUIRE_JUSTIFICATION = 1  # policy requirement bits (policies.vy)
REQUIRE_TICKET = 2


class Kind(enum.IntEnum):
    """What a request asks for."""

    UNLOCK = 1
    ELEVATE = 2
    PASSWORD_RESET = 3


class Status(enum.IntEnum):
    """A request's place in its status machine (see docs/contracts.md)."""

    NONE = 0
    PENDING = 1
    APPROVED = 2
    DENIED = 3
    CANCELLED = 4
    EXPIRED = 5
    ACTIVE = 6
    ENDED = 7
    FULFILLED = 8
    FAILED = 9

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {Status.DENIED, Status.CANCELLED, Status.EXPIRED, Status.ENDED, Status.FULFILLED, Status.FAILED}
)


class EndReason(enum.IntEnum):
    """Why a grant ended."""

    EXPIRED = 1
    REVOKED = 2
    SUSPENDED = 3


class Action(enum.IntEnum):
    """An AD change the oracle reports on."""

    UNLOCK = 1
    ADD_MEMBER = 2
    REMOVE_MEMBER = 3
    RESET_PASSWORD = 4


class Outcome(enum.IntEnum):
    """Whether the oracle's AD change took effect."""

    APPLIED = 1
    FAILED = 2


class AlarmKind(enum.IntEnum):
    """Events that security staff must look at."""

    BREAK_GLASS = 1
    DRIFT = 2
    UNLOCK_LIMIT = 3  # a principal used its last self-service unlock of the window
    REMOVAL_LATE = 4  # a grant ended and the oracle could not yet take the member out
    LEAVER = 5  # an oracle reported an enrolled principal's AD account as gone (target: the reason)
    REVIEW_LAPSED = 6  # an access-review item nobody re-confirmed by its deadline (campaign on_lapse FLAG)

    @classmethod
    def _missing_(cls, value: object) -> AlarmKind | None:
        """A kind a newer contract raises keeps its number (``KIND_<n>``) instead of failing the decoder:
        an alarm must never be lost because the SDK is older than the chain."""
        if not isinstance(value, int) or value < 0:
            return None
        member = int.__new__(cls, value)
        member._name_ = f"KIND_{value}"
        member._value_ = value
        return member


class LeaverReason(enum.IntEnum):
    """Why the oracle takes an enrolled principal's AD account for a leaver."""

    DISABLED = 1  # userAccountControl has ACCOUNTDISABLE (0x2)
    DELETED = 2  # its objectGUID is gone from the directory
    LEAVERS_OU = 3  # it was moved under the configured leavers OU


class PrincipalStatus(enum.IntEnum):
    """Whether an enrolled device may act."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class ReviewScope(enum.IntEnum):
    """What an access-review campaign covers (PamReviews ``SCOPE_*``)."""

    PRINCIPALS = 1  # a list of principals, one item each
    REQUESTERS = 2  # the requester sets of some policies, one item per (requester, target)
    APPROVERS = 3  # the approver sets of some policies, one item per (approver, target)


class Reviewer(enum.IntEnum):
    """Who re-confirms a campaign's items."""

    SELF = 1  # the item's principal attests for itself
    APPROVERS = 2  # a current approver of the item's policy, never the principal


class LapseAction(enum.IntEnum):
    """What happens to an item nobody re-confirmed by the deadline."""

    SUSPEND = 1  # the principal is suspended in PamChain: every live grant ends
    FLAG = 2  # Alarm(REVIEW_LAPSED) for the security officers


class ItemStatus(enum.IntEnum):
    """An access-review item's state."""

    NONE = 0
    PENDING = 1
    CONFIRMED = 2
    LAPSED = 3


def to_bytes32(value: bytes | str) -> bytes:
    """Accept 32 raw bytes or a 0x-hex string of 32 bytes; anything else is a caller error."""
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise ValueError(f"not a hex bytes32: {value!r}") from exc
    else:
        raw = bytes(value)
    if len(raw) != 32:
        raise ValueError(f"expected 32 bytes, got {len(raw)}")
    return raw


def ticket_ref(text: str) -> bytes:
    """Encode a short ticket reference (e.g. ``INC-1234``) as a right-padded bytes32."""
    raw = text.encode("ascii")
    if len(raw) > 32:
        raise ValueError("ticket reference longer than 32 ASCII characters")
    return raw.ljust(32, b"\x00")


def ticket_text(raw: bytes) -> str:
    """Decode a bytes32 ticket reference written by :func:`ticket_ref`."""
    return raw.rstrip(b"\x00").decode("ascii", errors="replace")


@dataclass(frozen=True, slots=True)
class Principal:
    """An enrolled device and the pseudonymous directory id it acts for."""

    directory_id: bytes
    device: str
    domain: bytes
    status: PrincipalStatus


@dataclass(frozen=True, slots=True)
class Request:
    """A request and, for an elevation, its grant window."""

    id: int
    kind: Kind
    status: Status
    requester: str
    subject: bytes
    target: bytes
    domain: bytes
    duration: int
    created: int
    deadline: int
    approvals: int
    approvals_required: int
    break_glass: bool
    justification_hash: bytes
    ticket_ref: bytes
    payload_hash: bytes
    start: int
    expiry: int

    def is_active_at(self, timestamp: int) -> bool:
        """A grant is active inside ``[start, expiry)`` and only while the contract says ACTIVE."""
        return self.status is Status.ACTIVE and self.start <= timestamp < self.expiry


@dataclass(frozen=True, slots=True)
class Policy:
    """Who must approve what, for how long, for one target (an AD group or a well-known action)."""

    target: bytes
    domain: bytes
    approvals_required: int
    max_duration: int
    max_pending: int
    self_service: bool
    enabled: bool
    break_glass_approvals: int
    break_glass_max_duration: int
    approvers: tuple[bytes, ...]
    requesters: tuple[bytes, ...] = ()  # who may request a group target; empty: nobody
    break_glass_cooldown: int = 0  # seconds after a break-glass grant's expiry before the next one
    unlock_limit: int = 0  # unlock requests per principal per window (unlock target)
    unlock_window: int = 0  # the unlock rate-limit window, seconds


@dataclass(frozen=True, slots=True)
class Proposal:
    """A council proposal: an encoded call to a governed function of ``target`` (PamChain, PamNetwork or the
    Council itself)."""

    id: int
    proposer: str
    target: str
    data: bytes
    created: int
    expires: int
    approvals: int
    executed: bool
    cancelled: bool

    def state(self, now: int) -> str:
        if self.executed:
            return "executed"
        if self.cancelled:
            return "cancelled"
        return "expired" if now >= self.expires else "open"


@dataclass(frozen=True, slots=True)
class Council:
    """The council's members and its threshold k."""

    members: tuple[str, ...]
    threshold: int


@dataclass(frozen=True, slots=True)
class Campaign:
    """An access-review campaign: its definition and its counters."""

    id: int
    scope: ReviewScope
    reviewer: Reviewer
    on_lapse: LapseAction
    label: bytes  # a short public name, ASCII right-padded (``ticket_ref``/``ticket_text`` encode it)
    opened: int
    deadline: int
    item_count: int
    confirmed: int
    lapsed: int
    closed: bool

    def state(self, now: int) -> str:
        """``open`` (confirming), ``due`` (deadline passed, not closed yet) or ``closed``."""
        if self.closed:
            return "closed"
        return "due" if now >= self.deadline else "open"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One thing to re-confirm: a principal's access (to ``target``; zero for a principal-only item)."""

    campaign_id: int
    id: int
    principal: bytes
    target: bytes
    status: ItemStatus
    by: bytes  # who confirmed it (directory id), zero otherwise
    at: int  # when it was confirmed or lapsed


@dataclass(frozen=True, slots=True)
class Receipt:
    """The oracle's report that AD was changed, or why not."""

    request_id: int
    action: Action
    outcome: Outcome
    detail_hash: bytes
    dc_id: bytes
    oracle: str
