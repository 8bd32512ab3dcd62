# pragma version ~=0.4.3
# pragma evm-version cancun
# pragma optimize codesize
"""
@title PamChain: privileged access management for Active Directory
@custom:contract-name PamChain
@license Apache-2.0
@notice The deployable composition of the pamchain modules; it holds no
        logic of its own. See docs/contracts.md.
"""

from .modules import alarms
from .modules import council
from .modules import grants
from .modules import ledger
from .modules import oracles
from .modules import permissioning
from .modules import policies
from .modules import principals
from .modules import receipts
from .modules import requests
from .modules import roles
from .modules import suspension

initializes: council
initializes: roles[council := council]
initializes: oracles[council := council, roles := roles]
initializes: principals[council := council]
initializes: policies[council := council]
initializes: ledger
initializes: grants[council := council, ledger := ledger, policies := policies, principals := principals]
initializes: requests[grants := grants, ledger := ledger, policies := policies, principals := principals]
initializes: receipts[ledger := ledger, oracles := oracles]
initializes: suspension[council := council, grants := grants, principals := principals]
initializes: permissioning[council := council, principals := principals, roles := roles]

exports: (
    council.__interface__,
    roles.__interface__,
    oracles.__interface__,
    principals.__interface__,
    policies.__interface__,
    ledger.__interface__,
    grants.__interface__,
    requests.__interface__,
    receipts.__interface__,
    suspension.__interface__,
    permissioning.__interface__,
    alarms.__interface__,
)


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
