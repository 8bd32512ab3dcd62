# pragma version ~=0.4.3
"""
@title Permissioning: which accounts the node lets send transactions
@custom:contract-name permissioning
@license Apache-2.0
@notice The node evaluates `is_account_allowed` against the parent block's
        state at submission, block building and import.
"""

from . import governance
from . import principals
from . import roles

uses: governance
uses: principals
uses: roles


@external
@view
def is_account_allowed(account: address) -> bool:
    """
    @notice Whether `account` may send transactions.
    @dev True for a council member, the bootstrapper during bootstrap, any
         account holding a role, or the device of an ACTIVE principal.
    @param account The sender.
    @return Whether it is allowed.
    """
    if governance._is_governance_or_member(account):
        return True
    if roles.roles_of[account] != empty(roles.Role):
        return True
    return principals._active_id(account) != empty(bytes32)
