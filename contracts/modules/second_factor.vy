# pragma version ~=0.4.3
"""
@title Second factor: what a stolen device key alone cannot do
@custom:contract-name second_factor
@license Apache-2.0
@notice A principal with a registered authenticator (a passkey, held in
        PamFactors under the council's rules) approves and asks for
        break-glass access only with a WebAuthn assertion over a challenge
        this contract computes for exactly that act; the assertion is
        checked on chain (PamFactors, EIP-7951 P256VERIFY). Without
        PamFactors set, or for a principal without an authenticator, the
        device key suffices, as before.
@dev Challenges bind the chain, this contract, the act and its object, so
     an assertion is good for one act only: an approval is cast once per
     request and approver, a break-glass request carries the request id it
     creates.
"""

from . import governance

uses: governance


# An ABI-encoded webauthn.Assertion: (bytes authenticator_data, bytes client_data_json, uint256 type_index,
# uint256 challenge_index, uint256 r, uint256 s) as a 1-tuple, at most 256 and 1,024 bytes of data. PamFactors decodes it;
# this contract only forwards it, which keeps its code small.
MAX_ASSERTION: constant(uint256) = 1568
# The acts a challenge is for.
ACT_APPROVE: constant(bytes32) = keccak256("pamchain:approve")
ACT_BREAK_GLASS: constant(bytes32) = keccak256("pamchain:break-glass")


interface Factors:
    def has_factor(directory_id: bytes32) -> bool: view
    def verify_encoded(directory_id: bytes32, challenge: bytes32, assertion: Bytes[MAX_ASSERTION]) -> bool: view


# The PamFactors contract (zero: no second factor anywhere).
factors: public(address)


event FactorsSet:
    factors: address


@external
def set_factors(factors: address):
    """
    @notice Points at the PamFactors contract holding the authenticators.
    @dev Governed. Zero turns the second factor off.
    @param factors PamFactors' address, or zero.
    """
    governance._enforce_governance()
    assert factors == empty(address) or factors.is_contract, "second_factor: not a contract"
    self.factors = factors
    log FactorsSet(factors=factors)


@external
@view
def approval_challenge(request_id: uint256, approver_id: bytes32) -> bytes32:
    """
    @notice What `approver_id`'s authenticator signs to approve `request_id`.
    @param request_id The request id.
    @param approver_id The approver's directory id.
    @return The 32-byte WebAuthn challenge.
    """
    return self._challenge(ACT_APPROVE, request_id, approver_id, empty(bytes32), 0)


@internal
@view
def _required(directory_id: bytes32) -> bool:
    """
    @dev Whether `directory_id` has an authenticator (so must use it).
    """
    factors: address = self.factors
    if factors == empty(address):
        return False
    return staticcall Factors(factors).has_factor(directory_id)


@internal
@view
def _check(directory_id: bytes32, challenge: bytes32, assertion: Bytes[MAX_ASSERTION]):
    """
    @dev Reverts unless `assertion` is `directory_id`'s authenticator's
         answer to `challenge`.
    """
    factors: address = self.factors
    assert factors != empty(address), "second_factor: not configured"
    assert staticcall Factors(factors).verify_encoded(
        directory_id, challenge, assertion
    ), "second_factor: bad assertion"


@internal
@view
def _challenge(act: bytes32, object_id: uint256, who: bytes32, target: bytes32, amount: uint256) -> bytes32:
    """
    @dev keccak256 of (chain id, this contract, act, object id, principal,
         target, amount), ABI-encoded.
    """
    return keccak256(abi_encode(chain.id, self, act, object_id, who, target, amount))
