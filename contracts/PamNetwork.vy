# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title PamNetwork: the network-level rules of a pamchain deployment
@custom:contract-name PamNetwork
@license Apache-2.0
@notice Which nodes may connect, governed by the same council as PamChain.
        See docs/contracts.md and docs/network.md.
"""

from .modules import governance
from .modules import nodes

initializes: governance
initializes: nodes[governance := governance]

exports: (
    governance.__interface__,
    nodes.__interface__,
)


@deploy
def __init__(council: address):
    """
    @dev Binds the deployment to its council contract (Council.vy).
    @param council The council whose executed proposals govern it.
    """
    governance.__init__(council)
