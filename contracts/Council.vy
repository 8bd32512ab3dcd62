# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title Council: the k-of-n governor of a pamchain deployment
@custom:contract-name Council
@license Apache-2.0
@notice Holds the council members, their proposals and the one-way
        bootstrap; an executed proposal calls its target (PamChain,
        PamNetwork, or the council itself). See docs/contracts.md.
"""

from .modules import council

initializes: council

exports: council.__interface__


@deploy
def __init__(
    members: DynArray[address, council.MAX_COUNCIL], threshold: uint256, proposal_ttl: uint256, bootstrap_ttl: uint256
):
    """
    @dev Seeds the council; the deployer becomes the bootstrapper.
    @param members The initial council members.
    @param threshold The council threshold k (2 <= k <= len(members)).
    @param proposal_ttl Seconds a proposal stays approvable.
    @param bootstrap_ttl Seconds the deployer may govern alone at most.
    """
    council.__init__(members, threshold, proposal_ttl, bootstrap_ttl)
