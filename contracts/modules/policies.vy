# pragma version ~=0.4.3
"""
@title Policies: per-target approval rules and approver sets
@custom:contract-name policies
@license Apache-2.0
@notice A target is an AD group id, or one of the well-known targets
        `UNLOCK_TARGET` and `PASSWORD_RESET_TARGET`. Its policy says which
        domain it belongs to, who may request it (a group's requester set;
        empty means nobody), how many approvals a request needs and from
        whom, how long a grant may last, how long a request may wait,
        whether self-service and break-glass are allowed, the cooldown
        between a principal's break-glass grants and, for unlocks, a rate
        limit per principal.
@dev An approver's seat on a target is a fresh number each time it joins
     the target's approver set; approvals are stamped with it, so an
     approver removed (and perhaps re-added) loses its pending approvals.
"""

from . import governance

uses: governance


# Most approvers a policy may list; also the bound of approver loops.
MAX_APPROVERS: constant(uint256) = 16
# Most principals a group policy may name as eligible requesters.
MAX_REQUESTERS: constant(uint256) = 16
# Policy target of account unlock requests.
UNLOCK_TARGET: public(constant(bytes32)) = keccak256("pamchain:unlock")
# Policy target of password reset requests.
PASSWORD_RESET_TARGET: public(constant(bytes32)) = keccak256("pamchain:password-reset")
# Requirement bit: an elevation must carry a justification hash.
REQUIRE_JUSTIFICATION: constant(uint256) = 1
# Requirement bit: an elevation must carry a ticket reference.
REQUIRE_TICKET: constant(uint256) = 2


# The rules of one target; `domain` is zero for a target never configured.
struct Policy:
    domain: bytes32
    approvals_required: uint256
    max_duration: uint256
    max_pending: uint256
    self_service: bool
    enabled: bool
    break_glass_approvals: uint256
    break_glass_max_duration: uint256
    break_glass_cooldown: uint256
    unlock_limit: uint256
    unlock_window: uint256


# Target -> policy.
_policies: HashMap[bytes32, Policy]
# Target -> approver directory ids (current set).
_approvers: HashMap[bytes32, DynArray[bytes32, MAX_APPROVERS]]
# Target -> directory id -> seat in the current approver set (0: not an approver).
_approver_seat: HashMap[bytes32, HashMap[bytes32, uint256]]
# Last approver seat number handed out.
_seat_count: uint256
# Target -> requester directory ids (current set; group targets only).
_requesters: HashMap[bytes32, DynArray[bytes32, MAX_REQUESTERS]]
# Target -> directory id -> may request the group.
is_requester: public(HashMap[bytes32, HashMap[bytes32, bool]])
# Target -> REQUIRE_* bits an elevation request must satisfy (kept across set_policy).
requirements: public(HashMap[bytes32, uint256])


event PolicySet:
    target: indexed(bytes32)
    domain: indexed(bytes32)
    approvals_required: uint256
    max_duration: uint256
    max_pending: uint256
    self_service: bool
    enabled: bool
    break_glass_approvals: uint256
    break_glass_max_duration: uint256
    approvers: DynArray[bytes32, MAX_APPROVERS]

event PolicyLimitsSet:
    target: indexed(bytes32)
    break_glass_cooldown: uint256
    unlock_limit: uint256
    unlock_window: uint256
    requesters: DynArray[bytes32, MAX_REQUESTERS]


event PolicyRequirementsSet:
    target: indexed(bytes32)
    requirements: uint256


@external
@view
def policy(target: bytes32) -> Policy:
    """
    @notice The policy of `target`.
    @param target The target id.
    @return The policy (all zero if never set).
    """
    return self._policies[target]


@external
@view
def policy_approvers(target: bytes32) -> DynArray[bytes32, MAX_APPROVERS]:
    """
    @notice The current approver set of `target`.
    @param target The target id.
    @return The approvers' directory ids.
    """
    return self._approvers[target]


@external
@view
def policy_requesters(target: bytes32) -> DynArray[bytes32, MAX_REQUESTERS]:
    """
    @notice The principals who may request the group `target`.
    @param target The target id.
    @return Their directory ids (empty: nobody).
    """
    return self._requesters[target]


@external
@view
def is_approver(target: bytes32, directory_id: bytes32) -> bool:
    """
    @notice Whether `directory_id` is in the current approver set of `target`.
    @param target The target id.
    @param directory_id The principal.
    @return True if it holds a seat.
    """
    return self._approver_seat[target][directory_id] != 0


@external
def set_requirements(target: bytes32, requirements: uint256):
    """
    @notice Sets what an elevation request of `target` must carry.
    @dev Governed. A separate setting, not reset by `set_policy`, so the
         policy's ABI stays as deployed tools know it.
    @param target The group id; nonzero.
    @param requirements REQUIRE_JUSTIFICATION | REQUIRE_TICKET bits; 0: none.
    """
    governance._enforce_governance()
    assert target != empty(bytes32), "policies: zero target"
    assert requirements <= REQUIRE_JUSTIFICATION | REQUIRE_TICKET, "policies: bad requirements"
    self.requirements[target] = requirements
    log PolicyRequirementsSet(target=target, requirements=requirements)


@external
def set_policy(
    target: bytes32,
    domain: bytes32,
    approvals_required: uint256,
    max_duration: uint256,
    max_pending: uint256,
    self_service: bool,
    enabled: bool,
    break_glass_approvals: uint256,
    break_glass_max_duration: uint256,
    approvers: DynArray[bytes32, MAX_APPROVERS],
    requesters: DynArray[bytes32, MAX_REQUESTERS],
    break_glass_cooldown: uint256,
    unlock_limit: uint256,
    unlock_window: uint256,
):
    """
    @notice Creates or replaces the policy of `target`, approver and
            requester sets included.
    @dev Governed. Pending requests keep the approvals required at their
         creation; at every approval the quorum is recounted over the
         approver set current then: an approver dropped from the set loses
         its approvals, and re-adding it does not revive them. Approvers
         kept in the set keep their seats and approvals.
    @param target The target id; nonzero.
    @param domain The domain the target belongs to; nonzero.
    @param approvals_required Approvals per request: 0 if self-service,
           else 1..len(approvers).
    @param max_duration Cap on an elevation's duration, in seconds.
    @param max_pending Seconds a request may wait for approval; nonzero.
    @param self_service Requests are approved at creation.
    @param enabled Requests are accepted.
    @param break_glass_approvals Approvals per break-glass request,
           1..len(approvers) when break-glass is enabled: somebody other
           than the requester always takes part.
    @param break_glass_max_duration Cap on a break-glass duration; 0 disables
           break-glass; at most `max_duration`.
    @param approvers The approver directory ids; nonzero, no duplicates.
    @param requesters Who may request the group (empty: nobody); must be
           empty for UNLOCK_TARGET and PASSWORD_RESET_TARGET, which every
           ACTIVE principal of the domain may request for its own account.
    @param break_glass_cooldown Seconds after a principal's break-glass
           grant's expiry before its next break-glass grant (any group).
    @param unlock_limit Unlock requests per principal per window; nonzero
           for UNLOCK_TARGET (ignored elsewhere).
    @param unlock_window The unlock rate-limit window, in seconds; nonzero
           for UNLOCK_TARGET (ignored elsewhere).
    """
    governance._enforce_governance()
    assert target != empty(bytes32), "policies: zero target"
    assert domain != empty(bytes32), "policies: zero domain"
    assert max_pending != 0, "policies: zero max_pending"
    count: uint256 = len(approvers)
    if self_service:
        assert approvals_required == 0, "policies: bad approvals"
    else:
        assert approvals_required >= 1 and approvals_required <= count, "policies: bad approvals"
    assert break_glass_max_duration <= max_duration, "policies: bad break-glass"
    assert break_glass_approvals <= count, "policies: bad break-glass"
    assert break_glass_max_duration == 0 or break_glass_approvals != 0, "policies: zero break-glass quorum"
    if target == UNLOCK_TARGET or target == PASSWORD_RESET_TARGET:
        assert len(requesters) == 0, "policies: requesters on action"
    if target == UNLOCK_TARGET:
        assert unlock_limit != 0 and unlock_window != 0, "policies: no unlock limit"
    for old: bytes32 in self._approvers[target]:
        if old not in approvers:
            self._approver_seat[target][old] = 0
    seen: DynArray[bytes32, MAX_APPROVERS] = []
    for approver: bytes32 in approvers:
        assert approver != empty(bytes32), "policies: zero approver"
        assert approver not in seen, "policies: duplicate approver"
        seen.append(approver)
        if self._approver_seat[target][approver] == 0:
            # One seat per joining, never reused: far below 2**128.
            seat: uint256 = unsafe_add(self._seat_count, 1)
            self._seat_count = seat
            self._approver_seat[target][approver] = seat
    self._approvers[target] = approvers
    for old: bytes32 in self._requesters[target]:
        self.is_requester[target][old] = False
    for requester: bytes32 in requesters:
        assert requester != empty(bytes32), "policies: zero requester"
        assert not self.is_requester[target][requester], "policies: duplicate requester"
        self.is_requester[target][requester] = True
    self._requesters[target] = requesters
    self._policies[target] = Policy(
        domain=domain,
        approvals_required=approvals_required,
        max_duration=max_duration,
        max_pending=max_pending,
        self_service=self_service,
        enabled=enabled,
        break_glass_approvals=break_glass_approvals,
        break_glass_max_duration=break_glass_max_duration,
        break_glass_cooldown=break_glass_cooldown,
        unlock_limit=unlock_limit,
        unlock_window=unlock_window,
    )
    log PolicySet(
        target=target,
        domain=domain,
        approvals_required=approvals_required,
        max_duration=max_duration,
        max_pending=max_pending,
        self_service=self_service,
        enabled=enabled,
        break_glass_approvals=break_glass_approvals,
        break_glass_max_duration=break_glass_max_duration,
        approvers=approvers,
    )
    log PolicyLimitsSet(
        target=target,
        break_glass_cooldown=break_glass_cooldown,
        unlock_limit=unlock_limit,
        unlock_window=unlock_window,
        requesters=requesters,
    )

