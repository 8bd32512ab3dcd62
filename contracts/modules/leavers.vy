# pragma version ~=0.4.3
"""
@title Leavers: the directory says a person left; the council decided beforehand what follows
@custom:contract-name leavers
@license Apache-2.0
@notice An oracle of a principal's domain reports that its AD account was
        disabled, deleted or moved to the leavers OU. Every report is logged
        and raises Alarm(LEAVER); where the domain's leaver rule (governed,
        set in advance) says so, the principal is suspended in the same
        transaction and every live grant ends, exactly as a council
        member's `suspend` would. A report on a principal that is not
        ACTIVE changes nothing, so two oracles reporting the same leaver
        never revert: the first report wins.
"""

from . import alarms
from . import governance
from . import grants
from . import oracles
from . import principals

uses: governance
uses: grants
uses: oracles
uses: principals


# Leaver reason: the account's userAccountControl has ACCOUNTDISABLE.
LEAVER_DISABLED: public(constant(uint8)) = 1
# Leaver reason: the account (by its objectGUID) is gone from the directory.
LEAVER_DELETED: public(constant(uint8)) = 2
# Leaver reason: the account was moved under the domain's leavers OU.
LEAVER_LEAVERS_OU: public(constant(uint8)) = 3


# Domain -> whether a leaver report suspends the principal (else it only alarms).
leaver_auto_suspend: public(HashMap[bytes32, bool])


event LeaverRuleSet:
    domain: indexed(bytes32)
    auto_suspend: bool

event LeaverReported:
    directory_id: indexed(bytes32)
    domain: indexed(bytes32)
    oracle: indexed(address)
    reason: uint8
    dc_id: bytes32
    suspended: bool


@external
def set_leaver_rule(domain: bytes32, auto_suspend: bool):
    """
    @notice Decides in advance what a leaver report on `domain` does.
    @dev Governed.
    @param domain The domain id; nonzero.
    @param auto_suspend True: suspend the leaver and end its grants; False: alarm only.
    """
    governance._enforce_governance()
    assert domain != empty(bytes32), "leavers: zero domain"
    self.leaver_auto_suspend[domain] = auto_suspend
    log LeaverRuleSet(domain=domain, auto_suspend=auto_suspend)


@external
def report_leaver(directory_id: bytes32, reason: uint8, dc_id: bytes32):
    """
    @notice Reports that an enrolled principal's AD account left: disabled,
            deleted or moved to the leavers OU.
    @dev Only an oracle of the principal's domain. Nothing happens if the
         principal is not ACTIVE (already suspended: a second oracle's
         report is harmless). Otherwise logs LeaverReported and
         Alarm(LEAVER) (target = the reason, subject = the principal,
         detail = the DC id) and, under the domain's rule, suspends it:
         PrincipalSuspended and GrantEnded(SUSPENDED) with `by` = the oracle.
    @param directory_id The principal.
    @param reason LEAVER_DISABLED, LEAVER_DELETED or LEAVER_LEAVERS_OU.
    @param dc_id The domain controller that saw it.
    """
    assert reason >= LEAVER_DISABLED and reason <= LEAVER_LEAVERS_OU, "leavers: bad reason"
    principal: principals.Principal = principals._principals[directory_id]
    assert principal.status != principals.PRINCIPAL_NONE, "leavers: unknown principal"
    domain: bytes32 = principal.domain
    oracles._enforce_oracle(domain, msg.sender)
    if principal.status != principals.PRINCIPAL_ACTIVE:
        return
    suspend: bool = self.leaver_auto_suspend[domain]
    log LeaverReported(
        directory_id=directory_id, domain=domain, oracle=msg.sender, reason=reason, dc_id=dc_id, suspended=suspend
    )
    log alarms.Alarm(
        kind=alarms.ALARM_LEAVER,
        domain=domain,
        request_id=0,
        target=convert(reason, bytes32),
        subject=directory_id,
        detail=dc_id,
    )
    if suspend:
        principals._suspend(directory_id)
        grants._end_all(directory_id)
