# pragma version ~=0.4.3
"""
@title WebAuthn: a passkey's assertion checked on chain
@custom:contract-name webauthn
@license Apache-2.0
@notice Verifies a WebAuthn (FIDO2) assertion the way a relying party does
        (W3C WebAuthn Level 3, section 7.2, "Verifying an Authentication
        Assertion"), for a challenge the contract itself computed: the
        authenticator data is for our relying party (its rpIdHash) with
        user presence (and user verification when asked); the client data
        is a `webauthn.get` for exactly this challenge (base64url, as the
        browser wrote it); and the P-256 signature over
        `authenticatorData || sha256(clientDataJSON)` is valid for the
        registered public key, checked by EIP-7951's P256VERIFY precompile.
        A stolen device keystore alone cannot produce one.
@dev `_verify` is the module's use; the external `verify_assertion` exists
     for direct tests and is part of a deployment only if exported. The
     client data JSON is not parsed: the caller names where the `type` and
     `challenge` members start, and both are compared byte for byte, as
     WebAuthn's own "limited verification" of clientDataJSON allows.
"""


# EIP-7951 P256VERIFY (Osaka; on a pamchain genesis with p256Verify).
P256VERIFY: constant(address) = 0x0000000000000000000000000000000000000100
# Largest authenticator data and client data JSON accepted.
MAX_AUTHENTICATOR_DATA: constant(uint256) = 256
MAX_CLIENT_DATA: constant(uint256) = 1024
# Authenticator data flags (WebAuthn 6.1): user present, user verified.
FLAG_UP: constant(uint256) = 1
FLAG_UV: constant(uint256) = 4
# base64url without padding (RFC 4648 section 5): what browsers put in clientDataJSON.challenge.
ALPHABET: constant(Bytes[64]) = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
TYPE_GET: constant(Bytes[21]) = b'"type":"webauthn.get"'


# One assertion as the authenticator and the browser produced it.
struct Assertion:
    authenticator_data: Bytes[MAX_AUTHENTICATOR_DATA]
    client_data_json: Bytes[MAX_CLIENT_DATA]
    # Where `"type":"webauthn.get"` starts in client_data_json.
    type_index: uint256
    # Where `"challenge":"` starts in client_data_json.
    challenge_index: uint256
    r: uint256
    s: uint256


# A registered authenticator's P-256 public key.
struct PublicKey:
    x: uint256
    y: uint256


@external
@view
def verify_assertion(
    challenge: bytes32, assertion: Assertion, key: PublicKey, rp_id_hash: bytes32, require_uv: bool
) -> bool:
    """
    @notice Whether `assertion` is `key`'s answer to `challenge` for the
            relying party `rp_id_hash`.
    @param challenge The 32-byte challenge the contract asked to be signed.
    @param assertion The authenticator data, client data JSON, the two
           member positions and the signature (r, s).
    @param key The registered public key.
    @param rp_id_hash sha256 of the relying party id (the app's domain).
    @param require_uv Whether user verification (PIN, biometrics) is needed.
    @return True if every check passes.
    """
    return self._verify(challenge, assertion, key, rp_id_hash, require_uv)


@internal
@view
def _verify(
    challenge: bytes32, assertion: Assertion, key: PublicKey, rp_id_hash: bytes32, require_uv: bool
) -> bool:
    """
    @dev See `verify_assertion`. Never reverts on bad input: it answers False.
    """
    auth: Bytes[MAX_AUTHENTICATOR_DATA] = assertion.authenticator_data
    # rpIdHash (32) + flags (1) + signCount (4).
    if len(auth) < 37:
        return False
    if convert(slice(auth, 0, 32), bytes32) != rp_id_hash:
        return False
    flags: uint256 = convert(slice(auth, 32, 1), uint256)
    if flags & FLAG_UP == 0:
        return False
    if require_uv and flags & FLAG_UV == 0:
        return False
    client: Bytes[MAX_CLIENT_DATA] = assertion.client_data_json
    if assertion.type_index > len(client) or len(client) - assertion.type_index < 21:
        return False
    if slice(client, assertion.type_index, 21) != TYPE_GET:
        return False
    expected: Bytes[57] = concat(b'"challenge":"', self._base64url(challenge), b'"')
    if assertion.challenge_index > len(client) or len(client) - assertion.challenge_index < 57:
        return False
    if slice(client, assertion.challenge_index, 57) != expected:
        return False
    digest: bytes32 = sha256(concat(auth, sha256(client)))
    data: Bytes[160] = concat(
        digest,
        convert(assertion.r, bytes32),
        convert(assertion.s, bytes32),
        convert(key.x, bytes32),
        convert(key.y, bytes32),
    )
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(P256VERIFY, data, max_outsize=32, is_static_call=True, revert_on_failure=False)
    return ok and len(out) == 32 and convert(out, uint256) == 1


@internal
@pure
def _base64url(data: bytes32) -> Bytes[43]:
    """
    @dev base64url of 32 bytes without padding: 42 sextets of 6 bits and a
         last one of the remaining 4 bits shifted left by 2 (43 characters).
    """
    word: uint256 = convert(data, uint256)
    head: uint256 = 0  # characters 0..31, one per byte, big-endian
    tail: uint256 = 0  # characters 32..42 in the top 11 bytes
    for i: uint256 in range(43):
        sextet: uint256 = 0
        if i < 42:
            sextet = (word >> (250 - 6 * i)) & 63
        else:
            sextet = (word & 15) << 2
        char: uint256 = convert(convert(slice(ALPHABET, sextet, 1), bytes1), uint256)
        if i < 32:
            head |= char << (8 * (31 - i))
        else:
            tail |= char << (8 * (31 - (i - 32)))
    return concat(convert(head, bytes32), slice(convert(tail, bytes32), 0, 11))
