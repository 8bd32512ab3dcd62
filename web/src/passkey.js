// The phone's passkey: created here for the app's domain, registered on chain by the council (PamFactors), then
// asked for an assertion over the challenge PamChain computes for each approval or break-glass request, and
// over a fresh random challenge before the device key may be exported. The ceremony is @simplewebauthn/browser's;
// signatures are parsed and checked with @noble/curves; nothing here parses CBOR (the browser hands us the key).

import { p256 } from "@noble/curves/nist.js";
import {
  WebAuthnError,
  base64URLStringToBuffer,
  bufferToBase64URLString,
  browserSupportsWebAuthn,
  startAuthentication,
  startRegistration,
} from "@simplewebauthn/browser";
import { AbiCoder, Interface, ZeroAddress, concat, getAddress, getBytes, hexlify, randomBytes, sha256, toBeHex, toUtf8Bytes } from "ethers";

// PamFactors: only what the phone reads.
export const factorsIface = new Interface([
  "function has_factor(bytes32) view returns (bool)",
  "function authenticator(bytes32) view returns ((uint256 x, uint256 y))",
  "function rp_id_hash() view returns (bytes32)",
  "function require_uv() view returns (bool)",
]);
// webauthn.Assertion as PamChain forwards it to PamFactors (sdk/chain/client.py encode_assertion).
const ASSERTION = ["tuple(bytes,bytes,uint256,uint256,uint256,uint256)"];
const FLAG_UP = 0x01;
const FLAG_UV = 0x04;

/** Why a passkey step failed, as a code the screens turn into words (i18n keys `passkey<Code>`). */
export class PasskeyError extends Error {
  constructor(code, detail = "") {
    super(detail || code);
    this.code = code;
  }
}

/** Index of `needle` (ASCII) in `bytes`, -1 if absent: where "type" and "challenge" start in clientDataJSON. */
function indexOf(bytes, needle) {
  const want = toUtf8Bytes(needle);
  outer: for (let i = 0; i + want.length <= bytes.length; i++) {
    for (let j = 0; j < want.length; j++) if (bytes[i + j] !== want[j]) continue outer;
    return i;
  }
  return -1;
}

const fromB64url = (text) => new Uint8Array(base64URLStringToBuffer(text));
const toB64url = (bytes) => bufferToBase64URLString(getBytes(bytes));

/** The text the device key signs to vouch for its passkey (sdk/chain/passkeys.py registration_message). */
export function registrationMessage({ chainId, contract, directoryId, rpId, credentialId, x, y }) {
  return `pamchain-passkey:v1:${chainId}:${contract.toLowerCase()}:${directoryId.toLowerCase()}:${rpId}:${credentialId}:${x}:${y}`;
}

/** The ceremony's failures in the user's terms: none attached, cancelled, timed out → `cancelled`. */
function ceremonyError(exc) {
  const name = (exc && exc.cause && exc.cause.name) || (exc && exc.name) || "";
  if (exc instanceof WebAuthnError && exc.code === "ERROR_INVALID_RP_ID") return new PasskeyError("RpMismatch", exc.message);
  if (name === "NotAllowedError" || name === "AbortError" || name === "TimeoutError") {
    return new PasskeyError("Cancelled", String(exc.message || exc));
  }
  if (name === "InvalidStateError") return new PasskeyError("Exists", String(exc.message || exc));
  return new PasskeyError("Failed", String((exc && exc.message) || exc));
}

export class Passkeys {
  constructor(chain, config) {
    this.chain = chain;
    this.timeout = config.passkey_timeout_ms || 60000;
    this.chainId = config.chain_id;
    this.contract = getAddress(config.contract);
    // One passkey per deployment, like the device key.
    this.slot = `pamchain:passkey:${config.chain_id}:${config.contract.toLowerCase()}`;
    this.rpId = location.hostname;
  }

  supported() {
    return browserSupportsWebAuthn();
  }

  /** The passkey this phone created: {credentialId, x, y, registration} (0x-hex coordinates), or null. */
  local() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.slot) || "null");
      return saved && saved.credentialId ? saved : null;
    } catch {
      return null;
    }
  }

  forget() {
    localStorage.removeItem(this.slot);
  }

  /** What the chain holds for `me`: {factors, x, y, requireUv, rpMatches}; factors null when the deployment has none. */
  async onChain(me) {
    const factors = await this.chain.call("factors", []);
    if (factors === ZeroAddress) return { factors: null, x: 0n, y: 0n, requireUv: false, rpMatches: true };
    const [key, rpIdHash, requireUv] = await Promise.all([
      this.chain.callAt(factors, factorsIface, "authenticator", [me]),
      this.chain.callAt(factors, factorsIface, "rp_id_hash", []),
      this.chain.callAt(factors, factorsIface, "require_uv", []),
    ]);
    return {
      factors,
      x: BigInt(key.x),
      y: BigInt(key.y),
      requireUv: Boolean(requireUv),
      rpMatches: rpIdHash === sha256(toUtf8Bytes(this.rpId)),
    };
  }

  /** Whether the chain wants an assertion from `me` (a passkey registered on chain). */
  static required(state) {
    return Boolean(state.factors) && state.x !== 0n;
  }

  /** Create a passkey for this domain, keep its id and key here, and return the registration the council needs,
   * signed by the device key `wallet` (`pamchain principal register-passkey FILE`). */
  async register(wallet, me, userName, requireUv) {
    if (!this.supported()) throw new PasskeyError("Unsupported");
    let response;
    try {
      response = await startRegistration({
        optionsJSON: {
          rp: { id: this.rpId, name: "pamchain" },
          // The pseudonymous directory id, never a name: the authenticator keeps it.
          user: { id: toB64url(me), name: userName, displayName: userName },
          challenge: toB64url(randomBytes(32)),
          pubKeyCredParams: [{ type: "public-key", alg: -7 }], // ES256: P-256, what P256VERIFY checks
          timeout: this.timeout,
          attestation: "none",
          authenticatorSelection: { residentKey: "preferred", userVerification: requireUv ? "required" : "preferred" },
          excludeCredentials: this.local() ? [{ id: this.local().credentialId, type: "public-key" }] : [],
        },
      });
    } catch (exc) {
      throw ceremonyError(exc);
    }
    if (response.response.publicKeyAlgorithm !== -7 || !response.response.publicKey) throw new PasskeyError("NotP256");
    // The browser hands the key as SubjectPublicKeyInfo; WebCrypto reads it, no ASN.1 or CBOR by hand.
    const key = await crypto.subtle.importKey(
      "spki",
      fromB64url(response.response.publicKey),
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["verify"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", key);
    const x = toBeHex(BigInt(hexlify(fromB64url(jwk.x))), 32);
    const y = toBeHex(BigInt(hexlify(fromB64url(jwk.y))), 32);
    const fields = {
      chainId: this.chainId,
      contract: this.contract,
      directoryId: me,
      rpId: this.rpId,
      credentialId: response.id,
      x,
      y,
    };
    const signature = await wallet.signMessage(registrationMessage(fields));
    const registration = {
      kind: "pamchain-passkey",
      v: 1,
      chain_id: this.chainId,
      contract: this.contract,
      device: wallet.address,
      directory_id: me,
      rp_id: this.rpId,
      credential_id: response.id,
      x,
      y,
      signature,
    };
    // Public material only: kept so the registration can be shown again until the council has it.
    localStorage.setItem(this.slot, JSON.stringify({ credentialId: response.id, x, y, registration }));
    return registration;
  }

  /** The authenticator's answer to `challenge` (32 bytes, 0x-hex): the raw parts and the ABI encoding PamChain takes. */
  async assert(challenge, requireUv) {
    if (!this.supported()) throw new PasskeyError("Unsupported");
    const saved = this.local();
    let response;
    try {
      response = await startAuthentication({
        optionsJSON: {
          challenge: toB64url(challenge),
          rpId: this.rpId,
          allowCredentials: saved ? [{ id: saved.credentialId, type: "public-key" }] : [],
          userVerification: requireUv ? "required" : "preferred",
          timeout: this.timeout,
        },
      });
    } catch (exc) {
      throw ceremonyError(exc);
    }
    const authenticatorData = fromB64url(response.response.authenticatorData);
    const clientDataJSON = fromB64url(response.response.clientDataJSON);
    const der = fromB64url(response.response.signature);
    let signature;
    try {
      signature = p256.Signature.fromBytes(der, "der");
    } catch (exc) {
      throw new PasskeyError("Failed", `signature: ${exc.message || exc}`);
    }
    const typeIndex = indexOf(clientDataJSON, '"type"');
    const challengeIndex = indexOf(clientDataJSON, '"challenge"');
    if (typeIndex < 0 || challengeIndex < 0) throw new PasskeyError("Failed", "client data without type or challenge");
    const encoded = AbiCoder.defaultAbiCoder().encode(ASSERTION, [
      [authenticatorData, clientDataJSON, typeIndex, challengeIndex, signature.r, signature.s],
    ]);
    return { authenticatorData, clientDataJSON, der, encoded };
  }

  /** A fresh, user-verified answer from the passkey registered on chain, checked here as PamFactors would
   * (rpIdHash, UP and UV flags, type, challenge, P-256 signature): the gate in front of exporting the key. */
  async verifyFresh(state) {
    if (!Passkeys.required(state)) throw new PasskeyError("NotRegistered");
    if (!state.rpMatches) throw new PasskeyError("RpMismatch");
    const challenge = hexlify(randomBytes(32));
    const { authenticatorData, clientDataJSON, der } = await this.assert(challenge, true);
    const client = JSON.parse(new TextDecoder().decode(clientDataJSON));
    const flags = authenticatorData[32];
    const ok =
      hexlify(authenticatorData.slice(0, 32)) === sha256(toUtf8Bytes(this.rpId)) &&
      (flags & FLAG_UP) !== 0 &&
      (flags & FLAG_UV) !== 0 &&
      client.type === "webauthn.get" &&
      client.challenge === toB64url(challenge) &&
      client.origin === location.origin;
    if (!ok) throw new PasskeyError("NotVerified");
    const publicKey = getBytes(concat(["0x04", toBeHex(state.x, 32), toBeHex(state.y, 32)]));
    const message = getBytes(concat([authenticatorData, sha256(clientDataJSON)]));
    // WebAuthn signatures are not low-S normalised; P256VERIFY accepts both halves too.
    if (!p256.verify(der, message, publicKey, { prehash: true, lowS: false, format: "der" })) {
      throw new PasskeyError("WrongKey");
    }
  }
}
