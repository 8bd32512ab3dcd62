# pragma version ~=0.4.3
"""
@title Suspension: the emergency stop of a principal, and its lifting
@custom:contract-name suspension
@license Apache-2.0
@notice Any single council member may suspend a principal (it only reduces
        privileges): every live grant ends at once, and the principal can
        neither request nor have its pending requests approved. Lifting a
        suspension adds privilege back, so it is governed.
"""

from . import governance
from . import grants
from . import principals

uses: governance
uses: grants
uses: principals


@external
def suspend(directory_id: bytes32):
    """
    @notice Suspends an ACTIVE principal and ends all its grants.
    @dev A single council member (or governance). Logs PrincipalSuspended
         then GrantEnded(SUSPENDED) for every live grant.
    @param directory_id The principal.
    """
    assert governance._is_governance_or_member(msg.sender), "suspension: not council"
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
