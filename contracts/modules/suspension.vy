# pragma version ~=0.4.3
"""
@title Suspension: the emergency stop of a principal, and its lifting
@custom:contract-name suspension
@license Apache-2.0
@notice Any single council member may suspend a principal (it only reduces
        privileges): every live grant ends at once, and the principal can
        neither request nor have its pending requests approved. So may an
        account holding Role.SUSPENDER (granted by governance: the access-
        review contract). Lifting a suspension adds privilege back, so it is
        governed.
"""

from . import governance
from . import grants
from . import principals
from . import roles

uses: governance
uses: grants
uses: principals
uses: roles


@external
def suspend(directory_id: bytes32):
    """
    @notice Suspends an ACTIVE principal and ends all its grants.
    @dev A single council member (or governance), or a SUSPENDER. Logs
         PrincipalSuspended then GrantEnded(SUSPENDED) for every live grant.
    @param directory_id The principal.
    """
    # The role is one storage read; the council check two staticcalls.
    assert roles.Role.SUSPENDER in roles.roles_of[msg.sender] or governance._is_governance_or_member(
        msg.sender
    ), "suspension: not council"
    principals._suspend(directory_id)
    grants._end_all(directory_id)


@external
def reinstate(directory_id: bytes32):
    """
    @notice Lifts a suspension; ended grants stay ended.
    @dev Governed.
    @param directory_id The principal.
    """
    governance._enforce_governance()
    principals._reinstate(directory_id)
