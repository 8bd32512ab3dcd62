# pragma version ~=0.4.3
"""
@title Roles: account role flags checked in one place
@custom:contract-name roles
@license Apache-2.0
@notice ORACLE marks an account that posts receipts (granted and withdrawn by
        `oracles.set_oracle`; withdrawing it by hand disables the oracle
        everywhere at once). OPERATOR marks an explicitly allowlisted sender
        such as a relayer or the deployer; it confers no contract power.
        SUSPENDER may suspend principals and nothing else (the deployment's
        access-review contract, PamReviews, holds it to suspend what a
        campaign saw lapse); withdrawing it takes that power away at once.
@dev `_enforce_role` is the only role check in the suite.
"""

from . import governance

uses: governance


# The roles an account may hold (ABI: uint256 bit set, ORACLE=1, OPERATOR=2, SUSPENDER=4).
flag Role:
    ORACLE
    OPERATOR
    SUSPENDER


# Account -> roles held.
roles_of: public(HashMap[address, Role])


event RolesSet:
    account: indexed(address)
    roles: Role


@external
@view
def has_role(account: address, role: Role) -> bool:
    """
    @notice Whether `account` holds any of the flags in `role`.
    @param account The account.
    @param role One flag (or a set of flags).
    @return True if any flag of `role` is held.
    """
    return role in self.roles_of[account]


@external
def set_roles(account: address, roles: Role):
    """
    @notice Replaces the roles of `account`.
    @dev Governed.
    @param account The account; not zero.
    @param roles The complete new set of roles (empty to clear).
    """
    governance._enforce_governance()
    assert account != empty(address), "roles: zero address"
    self._set_roles(account, roles)


@internal
@view
def _enforce_role(account: address, role: Role):
    """
    @dev Reverts unless `account` holds `role`.
    @param account The account.
    @param role The required flag.
    """
    assert role in self.roles_of[account], "roles: missing role"


@internal
def _set_roles(account: address, roles: Role):
    """
    @dev Stores and logs the new role set.
    @param account The account.
    @param roles The complete new set of roles.
    """
    self.roles_of[account] = roles
    log RolesSet(account=account, roles=roles)
