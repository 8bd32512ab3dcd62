# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title PamFactors: the second factor the chain checks
@custom:contract-name PamFactors
@license Apache-2.0
@notice Principals' WebAuthn authenticators and the relying party, governed
        by the same council as PamChain, which asks it before an approval
        or a break-glass request. See docs/contracts.md.
"""

from .modules import factors
from .modules import governance

initializes: governance
initializes: factors[governance := governance]

exports: (
    governance.__interface__,
    factors.__interface__,
)


@deploy
def __init__(council: address, rp_id_hash: bytes32, require_uv: bool):
    """
    @dev Binds the deployment to its council and sets the relying party.
    @param council The council whose executed proposals govern it.
    @param rp_id_hash sha256 of the relying party id (the phone app's domain).
    @param require_uv Whether user verification (PIN, biometrics) is required.
    """
    governance.__init__(council)
    factors.__init__(rp_id_hash, require_uv)
