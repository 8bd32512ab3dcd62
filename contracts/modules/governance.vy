# pragma version ~=0.4.3
"""
@title Governance: how a governed contract recognises its council
@custom:contract-name governance
@license Apache-2.0
@notice The council is its own contract (Council.vy); a governed contract
        holds its address and accepts a governed call only from it (an
        executed k-of-n proposal) or, while the council is bootstrapping,
        from the council's bootstrapper.
@dev Other modules call `_enforce_governance()` at the top of every governed
     function and `_is_governance_or_member()` for single-member emergency
     actions.
"""


interface Council:
    def is_council(account: address) -> bool: view
    def bootstrapper() -> address: view
    def bootstrapping() -> bool: view


# The council contract whose executed proposals govern this contract.
council: public(Council)


@deploy
def __init__(council: address):
    """
    @dev Binds this contract to its council, for good.
    @param council The council contract.
    """
    assert council.is_contract, "governance: council not a contract"
    self.council = Council(council)


@internal
@view
def _enforce_governance():
    """
    @dev Reverts unless the caller is the council (an executed proposal) or
         its bootstrapper during the bootstrap window.
    """
    assert self._is_governance(msg.sender), "council: not governance"


@internal
@view
def _is_governance(account: address) -> bool:
    """
    @dev True for the council contract, or its bootstrapper while it bootstraps.
    @param account The account to check.
    @return Whether `account` may make governed changes.
    """
    council: Council = self.council
    if account == council.address:
        return True
    return account == staticcall council.bootstrapper() and staticcall council.bootstrapping()


@internal
@view
def _is_member(account: address) -> bool:
    """
    @dev Whether `account` is a council member.
    @param account The account to check.
    @return True for a member.
    """
    return staticcall self.council.is_council(account)


@internal
@view
def _is_governance_or_member(account: address) -> bool:
    """
    @dev True for a council member, the council (an executed proposal) or
         its bootstrapper during the bootstrap window.
    @param account The account to check.
    @return Whether `account` may take single-member emergency actions.
    """
    return self._is_member(account) or self._is_governance(account)
