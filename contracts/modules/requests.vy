# pragma version ~=0.4.3
"""
@title Requests: asking for access, and k-of-n approval before a deadline
@custom:contract-name requests
@license Apache-2.0
@notice An ACTIVE principal's device asks for an unlock, a password reset
        or a time-bound elevation under the target's policy. Approvers of
        the policy's current set approve (never the requester, whatever
        device it uses) until the quorum fixed at request time; one denial
        ends the request; a request not approved by its deadline expires.
"""

from . import alarms
from . import grants
from . import ledger
from . import policies
from . import principals

uses: grants
uses: ledger
uses: policies
uses: principals


# Request id -> approver directory id -> approved.
has_approved: public(HashMap[uint256, HashMap[bytes32, bool]])


event RequestCreated:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)
    kind: uint8
    target: bytes32
    requester: address
    duration: uint256
    deadline: uint256
    approvals_required: uint256
    break_glass: bool
    justification_hash: bytes32
    ticket_ref: bytes32
    payload_hash: bytes32

event ApprovalCast:
    request_id: indexed(uint256)
    approver: indexed(bytes32)
    approvals: uint256
    approvals_required: uint256

event RequestApproved:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)
    kind: uint8
    target: bytes32
    payload_hash: bytes32

event RequestDenied:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)
    approver: bytes32
    reason_hash: bytes32

event RequestCancelled:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)

event RequestExpired:
    request_id: indexed(uint256)
    subject: indexed(bytes32)
    domain: indexed(bytes32)


@external
def request_unlock() -> uint256:
    """
    @notice Asks for the caller's AD account to be unlocked.
    @dev Policy UNLOCK_TARGET; caller must be an ACTIVE principal's device.
    @return The request id.
    """
    return self._create(
        ledger.KIND_UNLOCK,
        policies.UNLOCK_TARGET,
        0,
        empty(bytes32),
        empty(bytes32),
        empty(bytes32),
        False,
    )


@external
def request_password_reset(payload_hash: bytes32) -> uint256:
    """
    @notice Asks for the caller's AD password to be reset.
    @dev Policy PASSWORD_RESET_TARGET. The new password, encrypted to the
         domain oracle's key, stays off chain; only its hash is recorded.
    @param payload_hash Hash of the encrypted payload; nonzero.
    @return The request id.
    """
    assert payload_hash != empty(bytes32), "requests: zero payload hash"
    return self._create(
        ledger.KIND_PASSWORD_RESET,
        policies.PASSWORD_RESET_TARGET,
        0,
        empty(bytes32),
        empty(bytes32),
        payload_hash,
        False,
    )


@external
def request_elevation(
    target: bytes32,
    duration: uint256,
    justification_hash: bytes32,
    ticket_ref: bytes32,
    break_glass: bool,
) -> uint256:
    """
    @notice Asks for temporary membership of the privileged group `target`.
    @dev Break-glass uses the policy's break-glass quorum and cap and
         raises Alarm(BREAK_GLASS).
    @param target The group id; not a well-known action target.
    @param duration Seconds of the grant; 0 < duration <= the applicable cap.
    @param justification_hash Hash of the justification text kept off chain.
    @param ticket_ref Reference of the change ticket.
    @param break_glass Emergency access under the break-glass rules.
    @return The request id.
    """
    assert (
        target != policies.UNLOCK_TARGET and target != policies.PASSWORD_RESET_TARGET
    ), "requests: reserved target"
    return self._create(
        ledger.KIND_ELEVATE,
        target,
        duration,
        justification_hash,
        ticket_ref,
        empty(bytes32),
        break_glass,
    )


@external
def approve(request_id: uint256):
    """
    @notice Approves a pending request; at quorum an unlock or password reset
            becomes APPROVED and an elevation becomes an ACTIVE grant.
    @dev The caller's device must map to an ACTIVE principal in the target's
         current approver set, other than the requester.
    @param request_id The request id.
    """
    approver: bytes32 = self._enforce_decidable(request_id)
    assert not self.has_approved[request_id][approver], "requests: already approved"
    subject: bytes32 = ledger._requests[request_id].subject
    assert (
        principals._status(subject) == principals.PRINCIPAL_ACTIVE
    ), "requests: requester not active"
    self.has_approved[request_id][approver] = True
    # Bounded by the approver set size (<= 16): cannot overflow.
    approvals: uint256 = unsafe_add(ledger._requests[request_id].approvals, 1)
    ledger._requests[request_id].approvals = approvals
    required: uint256 = ledger._requests[request_id].approvals_required
    log ApprovalCast(
        request_id=request_id, approver=approver, approvals=approvals, approvals_required=required
    )
    if approvals >= required:
        self._approve(request_id)


@external
def deny(request_id: uint256, reason_hash: bytes32):
    """
    @notice Denies a pending request; one denial ends it.
    @param request_id The request id.
    @param reason_hash Hash of the reason text kept off chain.
    """
    approver: bytes32 = self._enforce_decidable(request_id)
    ledger._requests[request_id].status = ledger.STATUS_DENIED
    log RequestDenied(
        request_id=request_id,
        subject=ledger._requests[request_id].subject,
        domain=ledger._requests[request_id].domain,
        approver=approver,
        reason_hash=reason_hash,
    )


@external
def cancel(request_id: uint256):
    """
    @notice Withdraws a pending request.
    @dev Only the requester, from its current device, before the deadline.
    @param request_id The request id.
    """
    subject: bytes32 = ledger._requests[request_id].subject
    assert (
        subject != empty(bytes32) and principals.principal_of[msg.sender] == subject
    ), "requests: not requester"
    self._enforce_pending(request_id)
    ledger._requests[request_id].status = ledger.STATUS_CANCELLED
    log RequestCancelled(
        request_id=request_id, subject=subject, domain=ledger._requests[request_id].domain
    )


@external
def expire_request(request_id: uint256):
    """
    @notice Records that a pending request reached its deadline.
    @dev Anyone; bookkeeping only (status_of already reads EXPIRED).
    @param request_id The request id.
    """
    assert ledger._requests[request_id].status == ledger.STATUS_PENDING, "requests: not pending"
    assert block.timestamp >= ledger._requests[request_id].deadline, "requests: not expired"
    ledger._requests[request_id].status = ledger.STATUS_EXPIRED
    log RequestExpired(
        request_id=request_id,
        subject=ledger._requests[request_id].subject,
        domain=ledger._requests[request_id].domain,
    )


@internal
def _create(
    kind: uint8,
    target: bytes32,
    duration: uint256,
    justification_hash: bytes32,
    ticket_ref: bytes32,
    payload_hash: bytes32,
    break_glass: bool,
) -> uint256:
    """
    @dev Checks the caller and the policy, stores and logs the request, and
         approves it at once when it needs no approval.
    @param kind One of the KIND_* constants.
    @param target The policy target.
    @param duration Grant seconds (elevation only, else 0).
    @param justification_hash Hash of the justification (elevation only).
    @param ticket_ref Ticket reference (elevation only).
    @param payload_hash Hash of the encrypted payload (password reset only).
    @param break_glass Break-glass elevation.
    @return The request id.
    """
    subject: bytes32 = principals._active_id(msg.sender)
    assert subject != empty(bytes32), "requests: not active principal"
    policy: policies.Policy = policies._policies[target]
    assert policy.domain != empty(bytes32), "requests: unknown policy"
    assert policy.enabled, "requests: policy disabled"
    assert policy.domain == principals._principals[subject].domain, "requests: wrong domain"
    required: uint256 = policy.approvals_required
    if kind == ledger.KIND_ELEVATE:
        cap: uint256 = policy.max_duration
        if break_glass:
            assert policy.break_glass_max_duration != 0, "requests: no break-glass"
            cap = policy.break_glass_max_duration
            required = policy.break_glass_approvals
        assert duration != 0 and duration <= cap, "requests: bad duration"
    request_id: uint256 = ledger.request_count + 1
    ledger.request_count = request_id
    deadline: uint256 = block.timestamp + policy.max_pending
    ledger._requests[request_id] = ledger.Request(
        kind=kind,
        status=ledger.STATUS_PENDING,
        requester=msg.sender,
        subject=subject,
        target=target,
        domain=policy.domain,
        duration=duration,
        created=block.timestamp,
        deadline=deadline,
        approvals=0,
        approvals_required=required,
        break_glass=break_glass,
        justification_hash=justification_hash,
        ticket_ref=ticket_ref,
        payload_hash=payload_hash,
        start=0,
        expiry=0,
    )
    log RequestCreated(
        request_id=request_id,
        subject=subject,
        domain=policy.domain,
        kind=kind,
        target=target,
        requester=msg.sender,
        duration=duration,
        deadline=deadline,
        approvals_required=required,
        break_glass=break_glass,
        justification_hash=justification_hash,
        ticket_ref=ticket_ref,
        payload_hash=payload_hash,
    )
    if break_glass:
        log alarms.Alarm(
            kind=alarms.ALARM_BREAK_GLASS,
            domain=policy.domain,
            request_id=request_id,
            target=target,
            subject=subject,
            detail=justification_hash,
        )
    if required == 0:
        self._approve(request_id)
    return request_id


@internal
def _approve(request_id: uint256):
    """
    @dev Quorum reached: logs RequestApproved, then marks an unlock or
         password reset APPROVED, or activates an elevation's grant.
    @param request_id The request id.
    """
    kind: uint8 = ledger._requests[request_id].kind
    log RequestApproved(
        request_id=request_id,
        subject=ledger._requests[request_id].subject,
        domain=ledger._requests[request_id].domain,
        kind=kind,
        target=ledger._requests[request_id].target,
        payload_hash=ledger._requests[request_id].payload_hash,
    )
    if kind == ledger.KIND_ELEVATE:
        grants._activate(request_id)
    else:
        ledger._requests[request_id].status = ledger.STATUS_APPROVED


@internal
@view
def _enforce_pending(request_id: uint256):
    """
    @dev Reverts unless the request is PENDING and before its deadline.
    @param request_id The request id.
    """
    assert ledger._requests[request_id].status == ledger.STATUS_PENDING, "requests: not pending"
    assert block.timestamp < ledger._requests[request_id].deadline, "requests: expired"


@internal
@view
def _enforce_decidable(request_id: uint256) -> bytes32:
    """
    @dev Checks that the request is open and the caller may approve or deny it.
    @param request_id The request id.
    @return The caller's directory id.
    """
    self._enforce_pending(request_id)
    approver: bytes32 = principals.principal_of[msg.sender]
    assert approver != ledger._requests[request_id].subject, "requests: self-approval"
    assert (
        approver != empty(bytes32)
        and policies.is_approver[ledger._requests[request_id].target][approver]
    ), "requests: not approver"
    assert (
        principals._status(approver) == principals.PRINCIPAL_ACTIVE
    ), "requests: approver not active"
    return approver
