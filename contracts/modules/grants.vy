# pragma version ~=0.4.3
"""
@title Grants: time-bound elevation windows, their revocation and their end
@custom:contract-name grants
@license Apache-2.0
@notice An approved elevation becomes a grant, live in [start, expiry).
        `is_active` is false at or after expiry whatever else happened;
        `end_expired` only records what is already true and nothing depends
        on it being called. Each principal holds at most MAX_ACTIVE_GRANTS
        live grants; expired entries are pruned when a new grant is added.
        A break-glass grant activates only `break_glass_cooldown` seconds
        after the scheduled expiry of the principal's previous one, so a
        principal never holds two live break-glass grants.
"""

from . import governance
from . import ledger
from . import policies
from . import principals

uses: governance
uses: ledger
uses: policies
uses: principals


# Most live grants per principal; also the bound of per-principal loops.
MAX_ACTIVE_GRANTS: constant(uint256) = 16
# Grant end reason: its window closed.
END_EXPIRED: public(constant(uint8)) = 1
# Grant end reason: revoked early by the requester, an approver or the council.
END_REVOKED: public(constant(uint8)) = 2
# Grant end reason: its principal was suspended.
END_SUSPENDED: public(constant(uint8)) = 3


# How and when a grant was recorded as ended.
struct GrantEnd:
    reason: uint8
    at: uint256
    by: address


# Directory id -> grants activated and not yet recorded ended (expired ones until pruned).
_grants_of: HashMap[bytes32, DynArray[uint256, MAX_ACTIVE_GRANTS]]
# Grant id -> how it was recorded as ended.
_ends: HashMap[uint256, GrantEnd]
# Directory id -> scheduled expiry of its latest break-glass grant.
_break_glass_until: HashMap[bytes32, uint256]


event GrantActivated:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)
    target: bytes32
    start: uint256
    expiry: uint256

event GrantEnded:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)
    target: bytes32
    reason: uint8
    by: address


@external
@view
def is_active(request_id: uint256) -> bool:
    """
    @notice Whether the grant confers its privilege now.
    @param request_id The grant (= request) id.
    @return True iff ACTIVE and block.timestamp < expiry.
    """
    return ledger._is_live(request_id)


@external
@view
def active_grants(directory_id: bytes32) -> DynArray[uint256, MAX_ACTIVE_GRANTS]:
    """
    @notice The grants of a principal that are live now.
    @param directory_id The principal.
    @return Their ids.
    """
    live: DynArray[uint256, MAX_ACTIVE_GRANTS] = []
    for grant_id: uint256 in self._grants_of[directory_id]:
        if ledger._is_live(grant_id):
            live.append(grant_id)
    return live


@external
@view
def grant_end(request_id: uint256) -> GrantEnd:
    """
    @notice How and when a grant was recorded as ended.
    @param request_id The grant (= request) id.
    @return (reason, at, by); all zero while not recorded ended.
    """
    return self._ends[request_id]


@external
def revoke(request_id: uint256):
    """
    @notice Ends a live grant early.
    @dev By the requester (its current device), an ACTIVE approver of the
         target's current policy, or a council member (or governance).
    @param request_id The grant (= request) id.
    """
    subject: bytes32 = ledger._requests[request_id].subject
    caller_id: bytes32 = principals._active_id(msg.sender)
    assert (
        (caller_id != empty(bytes32) and caller_id == subject)
        or (
            caller_id != empty(bytes32)
            and policies._approver_seat[ledger._requests[request_id].target][caller_id] != 0
        )
        or governance._is_governance_or_member(msg.sender)
    ), "grants: not authorized"
    assert ledger._requests[request_id].status == ledger.STATUS_ACTIVE, "grants: not active"
    assert block.timestamp < ledger._requests[request_id].expiry, "grants: expired"
    self._end(request_id, END_REVOKED)


@external
def end_expired(request_id: uint256):
    """
    @notice Records that a grant's window has closed.
    @dev Anyone; purely bookkeeping (is_active is already false).
    @param request_id The grant (= request) id.
    """
    assert ledger._requests[request_id].status == ledger.STATUS_ACTIVE, "grants: not active"
    assert block.timestamp >= ledger._requests[request_id].expiry, "grants: not expired"
    self._end(request_id, END_EXPIRED)


@internal
def _activate(request_id: uint256):
    """
    @dev Makes an approved elevation live for [now, now + duration); a
         break-glass one only past the previous one's expiry plus the
         target policy's cooldown.
    @param request_id The elevation request id.
    """
    subject: bytes32 = ledger._requests[request_id].subject
    expiry: uint256 = block.timestamp + ledger._requests[request_id].duration
    if ledger._requests[request_id].break_glass:
        target: bytes32 = ledger._requests[request_id].target
        assert (
            block.timestamp >= self._break_glass_until[subject] + policies._policies[target].break_glass_cooldown
        ), "grants: break-glass cooldown"
        self._break_glass_until[subject] = expiry
    kept: DynArray[uint256, MAX_ACTIVE_GRANTS] = []
    for grant_id: uint256 in self._grants_of[subject]:
        if ledger._is_live(grant_id):
            kept.append(grant_id)
    assert len(kept) < MAX_ACTIVE_GRANTS, "grants: too many active"
    kept.append(request_id)
    self._grants_of[subject] = kept
    start: uint256 = block.timestamp
    ledger._requests[request_id].status = ledger.STATUS_ACTIVE
    ledger._requests[request_id].start = start
    ledger._requests[request_id].expiry = expiry
    log GrantActivated(
        request_id=request_id,
        subject=subject,
        domain=ledger._requests[request_id].domain,
        target=ledger._requests[request_id].target,
        start=start,
        expiry=expiry,
    )


@internal
def _end(request_id: uint256, reason: uint8):
    """
    @dev Records an ACTIVE grant as ENDED and drops it from its principal's list.
    @param request_id The grant id.
    @param reason One of the END_* constants.
    """
    subject: bytes32 = ledger._requests[request_id].subject
    count: uint256 = len(self._grants_of[subject])
    for i: uint256 in range(count, bound=MAX_ACTIVE_GRANTS):
        if self._grants_of[subject][i] == request_id:
            last: uint256 = self._grants_of[subject].pop()
            # i < count, so count - 1 >= i >= 0.
            if i != unsafe_sub(count, 1):
                self._grants_of[subject][i] = last
            break
    self._record_end(request_id, subject, reason)


@internal
def _end_all(subject: bytes32):
    """
    @dev Ends every grant of a principal still recorded ACTIVE: live ones
         as SUSPENDED, already expired ones as EXPIRED.
    @param subject The principal being suspended.
    """
    for grant_id: uint256 in self._grants_of[subject]:
        if ledger._requests[grant_id].status != ledger.STATUS_ACTIVE:
            continue
        reason: uint8 = END_SUSPENDED
        if block.timestamp >= ledger._requests[grant_id].expiry:
            reason = END_EXPIRED
        self._record_end(grant_id, subject, reason)
    self._grants_of[subject] = []


@internal
def _record_end(request_id: uint256, subject: bytes32, reason: uint8):
    """
    @dev Sets ENDED, stores the end record and logs GrantEnded.
    @param request_id The grant id.
    @param subject Its principal.
    @param reason One of the END_* constants.
    """
    ledger._requests[request_id].status = ledger.STATUS_ENDED
    self._ends[request_id] = GrantEnd(reason=reason, at=block.timestamp, by=msg.sender)
    log GrantEnded(
        request_id=request_id,
        subject=subject,
        domain=ledger._requests[request_id].domain,
        target=ledger._requests[request_id].target,
        reason=reason,
        by=msg.sender,
    )
