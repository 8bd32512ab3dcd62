# pragma version ~=0.4.3
"""
@title Policies: per-target approval rules and approver sets
@custom:contract-name policies
@license Apache-2.0
@notice A target is an AD group id, or one of the well-known targets
        `UNLOCK_TARGET` and `PASSWORD_RESET_TARGET`. Its policy says which
        domain it belongs to, how many approvals a request needs and from
        whom, how long a grant may last, how long a request may wait, and
        whether self-service and break-glass are allowed.
"""

from . import council

uses: council


# Most approvers a policy may list; also the bound of approver loops.
MAX_APPROVERS: constant(uint256) = 16
# Policy target of account unlock requests.
UNLOCK_TARGET: public(constant(bytes32)) = keccak256("pamchain:unlock")
# Policy target of password reset requests.
PASSWORD_RESET_TARGET: public(constant(bytes32)) = keccak256("pamchain:password-reset")


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


# Target -> policy.
_policies: HashMap[bytes32, Policy]
# Target -> approver directory ids (current set).
_approvers: HashMap[bytes32, DynArray[bytes32, MAX_APPROVERS]]
# Target -> directory id -> member of the current approver set.
is_approver: public(HashMap[bytes32, HashMap[bytes32, bool]])


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
):
    """
    @notice Creates or replaces the policy of `target`, approver set included.
    @dev Governed. Pending requests keep the approvals required at their
         creation but are approved by the approver set current at approval.
    @param target The target id; nonzero.
    @param domain The domain the target belongs to; nonzero.
    @param approvals_required Approvals per request: 0 if self-service,
           else 1..len(approvers).
    @param max_duration Cap on an elevation's duration, in seconds.
    @param max_pending Seconds a request may wait for approval; nonzero.
    @param self_service Requests are approved at creation.
    @param enabled Requests are accepted.
    @param break_glass_approvals Approvals per break-glass request, 0..len(approvers).
    @param break_glass_max_duration Cap on a break-glass duration; 0 disables
           break-glass; at most `max_duration`.
    @param approvers The approver directory ids; nonzero, no duplicates.
    """
    council._enforce_governance()
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
    for old: bytes32 in self._approvers[target]:
        self.is_approver[target][old] = False
    for approver: bytes32 in approvers:
        assert approver != empty(bytes32), "policies: zero approver"
        assert not self.is_approver[target][approver], "policies: duplicate approver"
        self.is_approver[target][approver] = True
    self._approvers[target] = approvers
    self._policies[target] = Policy(
        domain=domain,
        approvals_required=approvals_required,
        max_duration=max_duration,
        max_pending=max_pending,
        self_service=self_service,
        enabled=enabled,
        break_glass_approvals=break_glass_approvals,
        break_glass_max_duration=break_glass_max_duration,
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
