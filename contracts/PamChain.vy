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
from .modules import governance
from .modules import grants
from .modules import ledger
from .modules import leavers
from .modules import oracles
from .modules import permissioning
from .modules import policies
from .modules import principals
from .modules import receipts
from .modules import requests
from .modules import roles
from .modules import second_factor
from .modules import suspension

initializes: governance
initializes: roles[governance := governance]
initializes: oracles[governance := governance, roles := roles]
initializes: principals[governance := governance]
initializes: policies[governance := governance]
initializes: ledger
initializes: grants[governance := governance, ledger := ledger, policies := policies, principals := principals]
initializes: second_factor[governance := governance]
initializes: requests[
    grants := grants,
    ledger := ledger,
    policies := policies,
    principals := principals,
    second_factor := second_factor,
]
initializes: receipts[ledger := ledger, oracles := oracles]
initializes: suspension[governance := governance, grants := grants, principals := principals, roles := roles]
initializes: leavers[governance := governance, grants := grants, oracles := oracles, principals := principals]
initializes: permissioning[governance := governance, principals := principals, roles := roles]

exports: (
    governance.__interface__,
    roles.__interface__,
    oracles.__interface__,
    principals.__interface__,
    policies.__interface__,
    ledger.__interface__,
    grants.__interface__,
    requests.__interface__,
    second_factor.__interface__,
    receipts.__interface__,
    suspension.__interface__,
    permissioning.__interface__,
    alarms.__interface__,
    leavers.__interface__,
)


@deploy
def __init__(council: address):
    """
    @dev Binds the deployment to its council contract (Council.vy).
    @param council The council whose executed proposals govern it.
    """
    governance.__init__(council)
