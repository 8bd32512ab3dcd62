# pragma version ~=0.4.3
# Over 500 lines on purpose: one request lifecycle (ask, approve with passkeys, deny, expire, break-glass) whose
# checks must be read together; splitting it would spread one quorum rule over modules.
"""
@title Requests: asking for access, and k-of-n approval before a deadline
@custom:contract-name requests
@license Apache-2.0
@notice An ACTIVE principal's device asks for an unlock, a password reset
        or a time-bound elevation under the target's policy; a group only
        if the policy names it as a requester. Approvers of the policy's
        current set approve (never the requester, whatever device it uses)
        until the quorum fixed at request time, recounted at every approval
        over the approvals still valid then; one denial ends the request; a
        request not approved by its deadline expires. Break-glass grants
        are one live at a time per principal with a cooldown between them,
        and unlock requests are rate-limited per principal.
@dev An approval is stamped with the approver's seat on the target and its
     principal generation; it counts only while both are unchanged, so
     leaving the approver set, suspension and device rotation void it for
     good.
"""

from . import alarms
from . import grants
from . import ledger
from . import policies
from . import principals
from . import second_factor

uses: grants
uses: ledger
uses: policies
uses: principals
uses: second_factor


# Request id -> approver directory id -> stamp of its approval (0: none).
_approval_stamp: HashMap[uint256, HashMap[bytes32, uint256]]
# Directory id -> start of its current unlock rate-limit window.
_unlock_window_start: HashMap[bytes32, uint256]
# Directory id -> unlock requests in its current window.
_unlocks_in_window: HashMap[bytes32, uint256]


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
@view
def has_approved(request_id: uint256, approver_id: bytes32) -> bool:
    """
    @notice Whether `approver_id` has an approval of the request that counts now.
    @dev False once the approver left the target's approver set, was
         suspended or had its device rotated after approving.
    @param request_id The request id.
    @param approver_id The approver's directory id.
    @return True if its approval carries its current stamp.
    """
    stamp: uint256 = self._stamp(ledger._requests[request_id].target, approver_id)
    return policies._approver_seat[ledger._requests[request_id].target][approver_id] != 0 and (
        self._approval_stamp[request_id][approver_id] == stamp
    )


@external
def request_unlock() -> uint256:
    """
    @notice Asks for the caller's AD account to be unlocked.
    @dev Policy UNLOCK_TARGET; caller must be an ACTIVE principal's device.
         At most `unlock_limit` requests per principal per `unlock_window`
         (a fixed window opened by the first request); the request that
         uses the last one raises Alarm(UNLOCK_LIMIT), further ones revert.
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
    @dev Only a principal in the policy's requester set. Break-glass uses
         the policy's break-glass quorum and cap, raises Alarm(BREAK_GLASS),
         and is refused until `break_glass_cooldown` seconds after the
         expiry of the principal's previous break-glass grant.
    @param target The group id; not a well-known action target.
    @param duration Seconds of the grant; 0 < duration <= the applicable cap.
    @param justification_hash Hash of the justification text kept off chain.
    @param ticket_ref Reference of the change ticket.
    @param break_glass Emergency access under the break-glass rules.
    @return The request id.
    """
    assert not (
        break_glass and second_factor._required(principals._active_id(msg.sender))
    ), "requests: second factor required"
    return self._elevate(target, duration, justification_hash, ticket_ref, break_glass)


@external
def request_break_glass(
    target: bytes32,
    duration: uint256,
    justification_hash: bytes32,
    ticket_ref: bytes32,
    assertion: Bytes[second_factor.MAX_ASSERTION],
) -> uint256:
    """
    @notice A break-glass `request_elevation`, with the requester's WebAuthn
            assertion over `break_glass_challenge(...)` (bound to the
            request id it creates, so it is good once).
    @param target The group id.
    @param duration Seconds of the grant.
    @param justification_hash Hash of the justification text kept off chain.
    @param ticket_ref Reference of the change ticket.
    @param assertion The requester's authenticator's assertion, ABI-encoded.
    @return The request id.
    """
    request_id: uint256 = self._elevate(target, duration, justification_hash, ticket_ref, True)
    subject: bytes32 = ledger._requests[request_id].subject
    second_factor._check(
        subject, second_factor._challenge(second_factor.ACT_BREAK_GLASS, request_id, subject, target, duration), assertion
    )
    return request_id


@external
@view
def break_glass_challenge(directory_id: bytes32, target: bytes32, duration: uint256) -> bytes32:
    """
    @notice What `directory_id`'s authenticator signs for a break-glass
            request of `target` for `duration` seconds sent next (the id
            it will get is bound in; if another request comes first, ask
            again).
    @param directory_id The requester.
    @param target The group id.
    @param duration Seconds of the grant.
    @return The 32-byte WebAuthn challenge.
    """
    return second_factor._challenge(
        second_factor.ACT_BREAK_GLASS, ledger.request_count + 1, directory_id, target, duration
    )


@internal
def _elevate(
    target: bytes32, duration: uint256, justification_hash: bytes32, ticket_ref: bytes32, break_glass: bool
) -> uint256:
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
         current approver set, other than the requester. The quorum is
         recounted over the current approver set: only approvals carrying
         their approver's current stamp count. An approver with a registered
         authenticator must use `approve_with_assertion`.
    @param request_id The request id.
    """
    approver: bytes32 = self._enforce_decidable(request_id)
    assert not second_factor._required(approver), "requests: second factor required"
    self._cast(request_id, approver)


@external
def approve_with_assertion(request_id: uint256, assertion: Bytes[second_factor.MAX_ASSERTION]):
    """
    @notice `approve`, with the approver's WebAuthn assertion over
            `approval_challenge(request_id, approver)`: a stolen device key
            alone cannot approve.
    @param request_id The request id.
    @param assertion The approver's authenticator's assertion, ABI-encoded
           (see second_factor.vy).
    """
    approver: bytes32 = self._enforce_decidable(request_id)
    second_factor._check(approver, second_factor._challenge(second_factor.ACT_APPROVE, request_id, approver, empty(bytes32), 0), assertion)
    self._cast(request_id, approver)


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
    unlocks: uint256 = 0
    if kind == ledger.KIND_ELEVATE:
        assert policies.is_requester[target][subject], "requests: not eligible"
        needs: uint256 = policies.requirements[target]
        assert (
            needs & policies.REQUIRE_JUSTIFICATION == 0 or justification_hash != empty(bytes32)
        ), "requests: justification required"
        assert needs & policies.REQUIRE_TICKET == 0 or ticket_ref != empty(bytes32), "requests: ticket required"
        cap: uint256 = policy.max_duration
        if break_glass:
            assert policy.break_glass_max_duration != 0, "requests: no break-glass"
            assert (
                block.timestamp >= grants._break_glass_until[subject] + policy.break_glass_cooldown
            ), "requests: break-glass cooldown"
            cap = policy.break_glass_max_duration
            required = policy.break_glass_approvals
        assert duration != 0 and duration <= cap, "requests: bad duration"
    elif kind == ledger.KIND_UNLOCK:
        if block.timestamp >= self._unlock_window_start[subject] + policy.unlock_window:
            self._unlock_window_start[subject] = block.timestamp
        else:
            unlocks = self._unlocks_in_window[subject]
        assert unlocks < policy.unlock_limit, "requests: unlock limit"
        # Below unlock_limit, so below 2**256 - 1.
        unlocks = unsafe_add(unlocks, 1)
        self._unlocks_in_window[subject] = unlocks
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
    if unlocks != 0 and unlocks == policy.unlock_limit:
        log alarms.Alarm(
            kind=alarms.ALARM_UNLOCK_LIMIT,
            domain=policy.domain,
            request_id=request_id,
            target=target,
            subject=subject,
            detail=convert(self._unlock_window_start[subject] + policy.unlock_window, bytes32),
        )
    if required == 0:
        self._approve(request_id)
    return request_id


@internal
def _cast(request_id: uint256, approver: bytes32):
    """
    @dev Records `approver`'s approval under its current stamp, recounts the
         quorum over the current approver set, and approves at quorum.
    """
    target: bytes32 = ledger._requests[request_id].target
    stamp: uint256 = self._stamp(target, approver)
    assert self._approval_stamp[request_id][approver] != stamp, "requests: already approved"
    subject: bytes32 = ledger._requests[request_id].subject
    assert (
        principals._status(subject) == principals.PRINCIPAL_ACTIVE
    ), "requests: requester not active"
    self._approval_stamp[request_id][approver] = stamp
    approvals: uint256 = 0
    for member: bytes32 in policies._approvers[target]:
        if self._approval_stamp[request_id][member] == self._stamp(target, member):
            # Bounded by the approver set size (<= 16): cannot overflow.
            approvals = unsafe_add(approvals, 1)
    ledger._requests[request_id].approvals = approvals
    required: uint256 = ledger._requests[request_id].approvals_required
    log ApprovalCast(
        request_id=request_id, approver=approver, approvals=approvals, approvals_required=required
    )
    if approvals >= required:
        self._approve(request_id)


@internal
def _approve(request_id: uint256):
    """
    @dev Quorum reached: logs RequestApproved, then marks an unlock or
         password reset APPROVED, or activates an elevation's grant if its
         requester is still in the group's requester set.
    @param request_id The request id.
    """
    kind: uint8 = ledger._requests[request_id].kind
    if kind == ledger.KIND_ELEVATE:
        assert policies.is_requester[ledger._requests[request_id].target][
            ledger._requests[request_id].subject
        ], "requests: not eligible"
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
        and policies._approver_seat[ledger._requests[request_id].target][approver] != 0
    ), "requests: not approver"
    assert (
        principals._status(approver) == principals.PRINCIPAL_ACTIVE
    ), "requests: approver not active"
    return approver


@internal
@view
def _stamp(target: bytes32, approver: bytes32) -> uint256:
    """
    @dev The stamp an approval by `approver` on `target` carries now: its
         seat in the approver set (high 128 bits) and its principal
         generation (low 128 bits). Nonzero for an approver.
    @param target The target id.
    @param approver The approver's directory id.
    @return The stamp.
    """
    return (policies._approver_seat[target][approver] << 128) | principals.generation[approver]
