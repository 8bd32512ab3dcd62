// Everything secret stays here: the device keystore (scrypt-encrypted, in localStorage) and the sealed password.

import { Wallet, encryptKeystoreJson, getBytes, hexlify, keccak256, randomBytes } from "ethers";
import sodium from "libsodium-wrappers";

// --- device key ------------------------------------------------------------------------------------------

export class KeyStore {
  constructor(config) {
    // One key per deployment: the same phone may be enrolled on a test and a production chain.
    this.slot = `pamchain:keystore:${config.chain_id}:${config.contract.toLowerCase()}`;
    this.logN = config.kdf_log_n || 17;
  }

  exists() {
    return localStorage.getItem(this.slot) !== null;
  }

  address() {
    const json = localStorage.getItem(this.slot);
    if (!json) return null;
    try {
      return "0x" + JSON.parse(json).address.replace(/^0x/, "");
    } catch {
      return null;
    }
  }

  /** Create a random key, store it encrypted (standard keystore JSON v3, scrypt) and return the wallet. */
  async create(passphrase) {
    const wallet = Wallet.createRandom();
    const bytes = passphraseBytes(passphrase);
    try {
      const json = await encryptKeystoreJson(
        { address: wallet.address, privateKey: wallet.privateKey },
        bytes,
        { scrypt: { N: 2 ** this.logN } },
      );
      localStorage.setItem(this.slot, json);
      return new Wallet(wallet.privateKey);
    } finally {
      bytes.fill(0);
    }
  }

  /** Decrypt the stored key; throws WrongPassphrase when the passphrase does not open it. The passphrase
   * (a string, or UTF-8 NFKC bytes as ethers makes from one) is used for the KDF and kept nowhere. */
  async unlock(passphrase) {
    const json = localStorage.getItem(this.slot);
    const bytes = passphraseBytes(passphrase);
    try {
      const wallet = await Wallet.fromEncryptedJson(json, bytes);
      return new Wallet(wallet.privateKey);
    } catch (exc) {
      if (/password|invalid/i.test(String(exc && exc.message))) throw new WrongPassphrase();
      throw exc;
    } finally {
      bytes.fill(0);
    }
  }

  /** The stored keystore JSON (still encrypted): what "Export the key" hands out, behind the passkey. */
  json() {
    return localStorage.getItem(this.slot);
  }

  forget() {
    localStorage.removeItem(this.slot);
  }
}

export class WrongPassphrase extends Error {}

/** A copy of the passphrase as bytes that this module owns and zeroes after the KDF (strings cannot be wiped). */
function passphraseBytes(passphrase) {
  if (typeof passphrase === "string") return new TextEncoder().encode(passphrase.normalize("NFKC"));
  return Uint8Array.from(passphrase);
}

// --- sealed password payload (sdk/payloads/sealed.py seal_password) ---------------------------------------------

/** Python's json.dumps(..., ensure_ascii=True) for a string: the exact bytes seal_password encrypts. */
function pyJsonString(text) {
  return JSON.stringify(text).replace(
    /[\u0080-\uffff]/g,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

export function passwordPlaintext(subject, password) {
  const hex = subject.replace(/^0x/, "").toLowerCase();
  return `{"v": 1, "subject": "${hex}", "password": ${pyJsonString(password)}}`;
}

/** A libsodium sealed box (crypto_box_seal) to the oracle's X25519 key, as PyNaCl's SealedBox makes. */
export async function sealPassword(oraclePublicKey, subject, password) {
  await sodium.ready;
  const plaintext = new TextEncoder().encode(passwordPlaintext(subject, password));
  const ciphertext = sodium.crypto_box_seal(plaintext, getBytes(oraclePublicKey));
  if (ciphertext.length > 4096) throw new RangeError("password too long");
  return ciphertext;
}

// Signatures are bound to the store (its id), the chain and a one-use nonce: see sdk/payloads/auth.py.
let infoCache = null;

/** The store's id and chain id (asked once): what every signature is bound to. */
async function storeInfo(basePath) {
  if (infoCache) return infoCache;
  let response;
  try {
    response = await fetch(`${basePath}/v1/info`);
  } catch (exc) {
    throw new Error(`payload store unreachable (${exc})`);
  }
  if (response.status >= 400) {
    throw new Error(`payload store: ${response.status} ${(await response.text()).trim()}`);
  }
  infoCache = await response.json();
  return infoCache;
}

/** Thrown for an answer of the store that is not a success: `status` tells a refusal (403) from a miss (404). */
export class StoreError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function storeFetch(url, init) {
  let response;
  try {
    response = await fetch(url, { cache: "no-store", ...init });
  } catch (exc) {
    throw new StoreError(`payload store unreachable (${exc})`, 0);
  }
  if (response.status >= 400) {
    throw new StoreError(`payload store: ${response.status} ${(await response.text()).trim()}`, response.status);
  }
  return response;
}

/** The four headers of one signed store request (sdk/payloads/auth.py signed_headers): a fresh nonce each. */
async function signedHeaders(basePath, wallet, verb, digest) {
  const info = await storeInfo(basePath);
  const timestamp = Math.floor(Date.now() / 1000);
  const nonce = hexlify(randomBytes(16)).slice(2);
  const message = `pamchain-payload:v2:${verb}:${digest}:${timestamp}:${nonce}:${info.chain_id}:${info.store_id}`;
  return {
    "X-Pamchain-Time": String(timestamp),
    "X-Pamchain-Nonce": nonce,
    "X-Pamchain-Signer": wallet.address,
    "X-Pamchain-Signature": await wallet.signMessage(message),
  };
}

/** PUT a sealed payload exactly as sdk/payloads/store.py PayloadClient.put does; returns its keccak hash. */
export async function putPayload(basePath, wallet, ciphertext) {
  const digest = keccak256(ciphertext);
  const headers = { "Content-Type": "application/octet-stream", ...(await signedHeaders(basePath, wallet, "put", digest)) };
  await storeFetch(`${basePath}/v1/payloads/${digest}`, { method: "PUT", headers, body: ciphertext });
  return digest;
}

/** Store a sealed justification under the salted hash its request will carry (PayloadClient.put_justification). */
export async function putJustification(basePath, wallet, hash, envelope) {
  const signed = await signedHeaders(basePath, wallet, "put-justification", hash);
  const headers = { "Content-Type": "application/octet-stream", ...signed };
  await storeFetch(`${basePath}/v1/justifications/${hash}`, { method: "PUT", headers, body: envelope });
}

/** A request's sealed justification, for its requester or one of its approvers (the store checks which). */
export async function getJustification(basePath, wallet, hash) {
  const headers = await signedHeaders(basePath, wallet, "get-justification", hash);
  const response = await storeFetch(`${basePath}/v1/justifications/${hash}`, { headers });
  return new Uint8Array(await response.arrayBuffer());
}

/** Publish this device's signed encryption key, so requesters can seal justifications to it. */
export async function publishKey(basePath, announcement) {
  await storeFetch(`${basePath}/v1/keys/${announcement.device}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(announcement),
  });
}

/** The key announcement `device` left in the store (unverified: check it with verifyKey), or null. */
export async function deviceKey(basePath, device) {
  try {
    return await (await storeFetch(`${basePath}/v1/keys/${device}`)).json();
  } catch (exc) {
    if (exc instanceof StoreError && exc.status === 404) return null;
    throw exc;
  }
}

export { hexlify };
