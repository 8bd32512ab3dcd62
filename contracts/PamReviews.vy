# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title PamReviews: access-review campaigns of a pamchain deployment
@custom:contract-name PamReviews
@license Apache-2.0
@notice Campaigns opened by the council over PamChain's principals and
        policies; what nobody re-confirms in time is suspended (through
        PamChain's Role.SUSPENDER, held by this contract) or flagged.
        See docs/contracts.md.
"""

from .modules import governance
from .modules import reviews

initializes: governance
initializes: reviews[governance := governance]

exports: (
    governance.__interface__,
    reviews.__interface__,
)


@deploy
def __init__(council: address, pam: address):
    """
    @dev Binds the deployment to its council contract and its PamChain.
    @param council The council whose executed proposals govern it.
    @param pam The PamChain whose principals and policies it reviews.
    """
    governance.__init__(council)
    reviews.__init__(pam)
