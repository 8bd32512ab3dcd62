# pragma version ~=0.4.3
"""
@title Receipts: the domain oracle's proof that AD was changed, or why not
@custom:contract-name receipts
@license Apache-2.0
@notice Only the oracle registered for a request's domain posts a receipt,
        at most once per (request, action), and only for an action the
        request calls for. A receipt on an unlock or password reset closes
        it as FULFILLED or FAILED; receipts on an elevation only record.
        The oracle also reports drift (privileged members no grant explains)
        and removals it could not complete in time.
"""

from . import alarms
from . import ledger
from . import oracles

uses: ledger
uses: oracles


# Receipt action: lockoutTime reset.
ACTION_UNLOCK: public(constant(uint8)) = 1
# Receipt action: member added to the privileged group.
ACTION_ADD_MEMBER: public(constant(uint8)) = 2
# Receipt action: member removed from the privileged group.
ACTION_REMOVE_MEMBER: public(constant(uint8)) = 3
# Receipt action: unicodePwd set.
ACTION_RESET_PASSWORD: public(constant(uint8)) = 4
# Receipt outcome: the directory was changed.
OUTCOME_APPLIED: public(constant(uint8)) = 1
# Receipt outcome: the directory refused or could not be reached for good.
OUTCOME_FAILED: public(constant(uint8)) = 2


# One oracle receipt.
struct Receipt:
    outcome: uint8
    detail_hash: bytes32
    dc_id: bytes32
    oracle: address
    posted: uint256


# Request id -> action -> receipt (outcome 0 = none yet).
_receipts: HashMap[uint256, HashMap[uint8, Receipt]]


event ReceiptPosted:
    request_id: indexed(uint256)
    domain: indexed(bytes32)
    action: indexed(uint8)
    outcome: uint8
    detail_hash: bytes32
    dc_id: bytes32
    oracle: address

event DriftReported:
    domain: indexed(bytes32)
    target: indexed(bytes32)
    member_hash: indexed(bytes32)
    dc_id: bytes32
    removed: bool
    oracle: address


@external
@view
def receipt(request_id: uint256, action: uint8) -> Receipt:
    """
    @notice The receipt posted for (request, action).
    @param request_id The request id.
    @param action One of the ACTION_* constants.
    @return (outcome, detail_hash, dc_id, oracle, posted); all zero if none.
    """
    return self._receipts[request_id][action]


@external
def post_receipt(request_id: uint256, action: uint8, outcome: uint8, detail_hash: bytes32, dc_id: bytes32):
    """
    @notice Records the outcome of the directory change a request called for.
    @dev Only the oracle of the request's domain. UNLOCK needs an APPROVED
         unlock and RESET_PASSWORD an APPROVED password reset (they move it
         to FULFILLED or FAILED); ADD_MEMBER and REMOVE_MEMBER need an
         elevation that was activated, and must be what its state explains:
         REMOVE_MEMBER (either outcome) only once the grant is not live
         (revoked, suspended, or at or past expiry whether or not
         end_expired was called), so a premature removal can never take the
         slot of the honest one; ADD_MEMBER at any time after activation (an
         add done while live may be reported after the end by an oracle
         that crashed in between; refusing it would lose the evidence).
    @param request_id The request id.
    @param action One of the ACTION_* constants.
    @param outcome OUTCOME_APPLIED or OUTCOME_FAILED.
    @param detail_hash Hash of the oracle's off-chain detail record.
    @param dc_id Id of the domain controller that applied it.
    """
    kind: uint8 = ledger._requests[request_id].kind
    assert kind != 0, "receipts: unknown request"
    domain: bytes32 = ledger._requests[request_id].domain
    oracles._enforce_oracle(domain, msg.sender)
    assert outcome == OUTCOME_APPLIED or outcome == OUTCOME_FAILED, "receipts: bad outcome"
    assert self._receipts[request_id][action].outcome == 0, "receipts: duplicate"
    status: uint8 = ledger._requests[request_id].status
    if action == ACTION_UNLOCK or action == ACTION_RESET_PASSWORD:
        expected: uint8 = ledger.KIND_UNLOCK
        if action == ACTION_RESET_PASSWORD:
            expected = ledger.KIND_PASSWORD_RESET
        assert kind == expected, "receipts: wrong action"
        assert status == ledger.STATUS_APPROVED, "receipts: not approved"
        if outcome == OUTCOME_APPLIED:
            ledger._requests[request_id].status = ledger.STATUS_FULFILLED
        else:
            ledger._requests[request_id].status = ledger.STATUS_FAILED
    elif action == ACTION_ADD_MEMBER or action == ACTION_REMOVE_MEMBER:
        assert kind == ledger.KIND_ELEVATE, "receipts: wrong action"
        assert (
            status == ledger.STATUS_ACTIVE or status == ledger.STATUS_ENDED
        ), "receipts: not activated"
        if action == ACTION_REMOVE_MEMBER:
            assert not ledger._is_live(request_id), "receipts: grant live"
    else:
        raise "receipts: bad action"
    self._receipts[request_id][action] = Receipt(
        outcome=outcome, detail_hash=detail_hash, dc_id=dc_id, oracle=msg.sender, posted=block.timestamp
    )
    log ReceiptPosted(
        request_id=request_id,
        domain=domain,
        action=action,
        outcome=outcome,
        detail_hash=detail_hash,
        dc_id=dc_id,
        oracle=msg.sender,
    )


@external
def report_drift(domain: bytes32, target: bytes32, member_hash: bytes32, dc_id: bytes32, removed: bool):
    """
    @notice Reports a privileged-group member that no live grant explains.
    @dev Only the oracle of `domain`; raises Alarm(DRIFT) with the member
         hash as subject and the DC id as detail.
    @param domain The domain id.
    @param target The privileged group id.
    @param member_hash Pseudonymous id of the unexplained member.
    @param dc_id The domain controller that saw it.
    @param removed Whether the oracle removed the member.
    """
    oracles._enforce_oracle(domain, msg.sender)
    log DriftReported(
        domain=domain,
        target=target,
        member_hash=member_hash,
        dc_id=dc_id,
        removed=removed,
        oracle=msg.sender,
    )
    log alarms.Alarm(
        kind=alarms.ALARM_DRIFT, domain=domain, request_id=0, target=target, subject=member_hash, detail=dc_id
    )


@external
def report_late_removal(request_id: uint256, dc_id: bytes32):
    """
    @notice Raises an alarm: the grant has ended but its member is still in
            the group (AD unreachable, or the removal could not be confirmed).
    @dev Only the oracle of the request's domain, only for an activated
         elevation without an APPLIED REMOVE_MEMBER receipt. Raises
         Alarm(REMOVAL_LATE) with the grant's subject and target and the DC
         id as detail; the oracle keeps retrying the removal.
    @param request_id The elevation's request id.
    @param dc_id The domain controller that is late.
    """
    kind: uint8 = ledger._requests[request_id].kind
    assert kind != 0, "receipts: unknown request"
    assert kind == ledger.KIND_ELEVATE, "receipts: wrong action"
    domain: bytes32 = ledger._requests[request_id].domain
    oracles._enforce_oracle(domain, msg.sender)
    status: uint8 = ledger._requests[request_id].status
    assert status == ledger.STATUS_ACTIVE or status == ledger.STATUS_ENDED, "receipts: not activated"
    assert (
        self._receipts[request_id][ACTION_REMOVE_MEMBER].outcome != OUTCOME_APPLIED
    ), "receipts: already removed"
    log alarms.Alarm(
        kind=alarms.ALARM_REMOVAL_LATE,
        domain=domain,
        request_id=request_id,
        target=ledger._requests[request_id].target,
        subject=ledger._requests[request_id].subject,
        detail=dc_id,
    )
