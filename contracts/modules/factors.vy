# pragma version ~=0.4.3
"""
@title Factors: the principals' authenticators and the relying party
@custom:contract-name factors
@license Apache-2.0
@notice The council registers each principal's authenticator (the P-256
        public key of a passkey or security key, read at enrolment) and the
        relying party the assertions must be for (sha256 of the phone app's
        domain, and whether user verification is required). `verify`
        answers whether an assertion is a principal's authenticator's answer
        to a challenge; PamChain asks it before an approval or a
        break-glass request by that principal.
"""

from . import governance
from . import webauthn

uses: governance


# The field prime of P-256: coordinates are below it.
_P: constant(uint256) = 115792089210356248762697446949407573530086143415290314195533631308867097853951

# Principal -> its authenticator's public key (zero: none).
_keys: HashMap[bytes32, webauthn.PublicKey]
# sha256 of the relying party id (the domain the phone app is served from).
rp_id_hash: public(bytes32)
# Whether assertions must show user verification (PIN or biometrics), not only presence.
require_uv: public(bool)


event AuthenticatorSet:
    directory_id: indexed(bytes32)
    x: uint256
    y: uint256

event RelyingPartySet:
    rp_id_hash: bytes32
    require_uv: bool


@deploy
def __init__(rp_id_hash: bytes32, require_uv: bool):
    """
    @dev Sets the relying party.
    @param rp_id_hash sha256 of the relying party id; nonzero.
    @param require_uv Whether user verification is required.
    """
    self._set_relying_party(rp_id_hash, require_uv)


@external
@view
def authenticator(directory_id: bytes32) -> webauthn.PublicKey:
    """
    @notice The authenticator registered for `directory_id` (zero if none).
    @param directory_id The principal.
    @return Its public key.
    """
    return self._keys[directory_id]


@external
@view
def has_factor(directory_id: bytes32) -> bool:
    """
    @notice Whether `directory_id` has a registered authenticator.
    @param directory_id The principal.
    @return True if it has one.
    """
    return self._keys[directory_id].x != 0


@external
@view
def verify(directory_id: bytes32, challenge: bytes32, assertion: webauthn.Assertion) -> bool:
    """
    @notice Whether `assertion` is `directory_id`'s authenticator's answer
            to `challenge` for this relying party.
    @param directory_id The principal.
    @param challenge The challenge the caller computed for the act.
    @param assertion The WebAuthn assertion.
    @return False for a principal without an authenticator.
    """
    key: webauthn.PublicKey = self._keys[directory_id]
    if key.x == 0:
        return False
    return webauthn._verify(challenge, assertion, key, self.rp_id_hash, self.require_uv)


@external
@view
def verify_encoded(directory_id: bytes32, challenge: bytes32, assertion: Bytes[1568]) -> bool:
    """
    @notice `verify` with the assertion ABI-encoded (what PamChain forwards).
    @param directory_id The principal.
    @param challenge The challenge the caller computed for the act.
    @param assertion abi_encode(webauthn.Assertion).
    @return False for a principal without an authenticator or bad input.
    """
    key: webauthn.PublicKey = self._keys[directory_id]
    if key.x == 0:
        return False
    decoded: webauthn.Assertion = abi_decode(assertion, webauthn.Assertion)
    return webauthn._verify(challenge, decoded, key, self.rp_id_hash, self.require_uv)


@external
def set_authenticator(directory_id: bytes32, key: webauthn.PublicKey):
    """
    @notice Registers (or replaces) a principal's authenticator.
    @dev Governed: enrolment of a second factor is a council decision.
    @param directory_id The principal; nonzero.
    @param key Its P-256 public key; coordinates in the field, x nonzero.
    """
    governance._enforce_governance()
    assert directory_id != empty(bytes32), "factors: zero id"
    assert key.x != 0 and key.x < _P and key.y < _P, "factors: bad key"
    self._keys[directory_id] = key
    log AuthenticatorSet(directory_id=directory_id, x=key.x, y=key.y)


@external
def remove_authenticator(directory_id: bytes32):
    """
    @notice Removes a principal's authenticator (lost or replaced device).
    @dev Governed.
    @param directory_id The principal; it must have one.
    """
    governance._enforce_governance()
    assert self._keys[directory_id].x != 0, "factors: no authenticator"
    self._keys[directory_id] = empty(webauthn.PublicKey)
    log AuthenticatorSet(directory_id=directory_id, x=0, y=0)


@external
def set_relying_party(rp_id_hash: bytes32, require_uv: bool):
    """
    @notice Changes the relying party the assertions must be for.
    @dev Governed.
    @param rp_id_hash sha256 of the relying party id; nonzero.
    @param require_uv Whether user verification is required.
    """
    governance._enforce_governance()
    self._set_relying_party(rp_id_hash, require_uv)


@internal
def _set_relying_party(rp_id_hash: bytes32, require_uv: bool):
    assert rp_id_hash != empty(bytes32), "factors: zero relying party"
    self.rp_id_hash = rp_id_hash
    self.require_uv = require_uv
    log RelyingPartySet(rp_id_hash=rp_id_hash, require_uv=require_uv)
