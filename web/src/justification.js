// Justifications sealed to a request's eligible approvers, sealed and opened on the phone with the envelope of
// sdk/payloads/justification.py (libsodium primitives only): a random key encrypts the text once (crypto_secretbox), and
// is sealed to each recipient's X25519 key (crypto_box_seal); the request carries keccak(salt ‖ text).

import { concat, getAddress, getBytes, hexlify, keccak256, randomBytes, sha256, toUtf8Bytes, verifyMessage } from "ethers";
import sodium from "libsodium-wrappers";

const KDF_LABEL = "pamchain/device-x25519/v1";
const VERSION = 1;
const BOX = 32 + 48; // a sealed 32-byte key: ephemeral public key + MAC + key
const NONCE = 24; // crypto_secretbox's nonce, in front of its ciphertext as PyNaCl's SecretBox puts it
export const MAX_JUSTIFICATION_BYTES = 1024;
const MAX_RECIPIENTS = 17;
const MAX_PAYLOAD_BYTES = 4096;

/** Why a justification cannot be shown: a code the screen turns into words, never the bytes themselves. */
export class Unreadable extends Error {
  constructor(code) {
    super(`justification cannot be read (${code})`);
    this.code = code;
  }
}

const bare = (hex) => hex.replace(/^0x/, "").toLowerCase();

/** This device's X25519 key pair, derived from its Ethereum key (device_encryption_key in Python). */
export async function deviceKeyPair(ethPrivateKey) {
  await sodium.ready;
  const privateKey = getBytes(sha256(concat([toUtf8Bytes(KDF_LABEL), ethPrivateKey])));
  return { privateKey, publicKey: sodium.crypto_scalarmult_base(privateKey) };
}

/** The text a device signs to publish its encryption key (key_message in Python). */
export function keyMessage(chainId, device, publicKey) {
  return `pamchain-encryption-key:v1:${Number(chainId)}:${getAddress(device)}:${hexlify(publicKey)}`;
}

/** This device's key announcement for `chainId`: what `pamchain keys publish` sends for a CLI device. */
export async function announceKey(wallet, chainId) {
  const { privateKey, publicKey } = await deviceKeyPair(wallet.privateKey);
  privateKey.fill(0); // only the public half is announced
  const signature = await wallet.signMessage(keyMessage(chainId, wallet.address, publicKey));
  return { device: wallet.address, public_key: hexlify(publicKey), signature };
}

/** The public key if `device` signed the announcement for `chainId`; throws otherwise (verify_key). */
export function verifyKey(announcement, chainId, device) {
  const key = getBytes(announcement.public_key);
  if (key.length !== 32) throw new Error("malformed key announcement");
  const signer = verifyMessage(keyMessage(chainId, announcement.device, key), announcement.signature);
  if (signer !== getAddress(device) || getAddress(announcement.device) !== signer) {
    throw new Error(`the encryption key offered for ${device} is not signed by it`);
  }
  return key;
}

/** Seal `text` to every key in `recipients`; returns {envelope, hash} (seal_justification). */
export async function sealJustification(recipients, subject, target, text) {
  await sodium.ready;
  const textBytes = toUtf8Bytes(text);
  if (!textBytes.length) throw new RangeError("an empty justification is not sealed");
  if (textBytes.length > MAX_JUSTIFICATION_BYTES) throw new RangeError("justificationTooLong");
  const keys = [...new Map(recipients.map((k) => [hexlify(k), getBytes(k)])).values()];
  if (keys.length < 1 || keys.length > MAX_RECIPIENTS) throw new RangeError("too many or no recipients");
  const salt = randomBytes(32);
  const plaintext = JSON.stringify({ v: VERSION, subject: bare(subject), target: bare(target), salt: bare(hexlify(salt)), text });
  const contentKey = sodium.randombytes_buf(sodium.crypto_secretbox_KEYBYTES);
  const boxes = keys.map((k) => sodium.crypto_box_seal(contentKey, k));
  const nonce = sodium.randombytes_buf(NONCE);
  const body = sodium.crypto_secretbox_easy(toUtf8Bytes(plaintext), nonce, contentKey);
  const envelope = getBytes(concat([Uint8Array.of(VERSION, keys.length), ...boxes, nonce, body]));
  if (envelope.length > MAX_PAYLOAD_BYTES) throw new RangeError("justificationTooLong");
  return { envelope, hash: keccak256(concat([salt, textBytes])) };
}

/** Open an envelope with this device's key and check it against the request naming it; returns the text.
 * Throws Unreadable("notSealed" | "damaged" | "mismatch" | "otherRequest") (open_justification). */
export async function openJustification(ethPrivateKey, envelope, expectedHash, subject, target) {
  const { privateKey, publicKey } = await deviceKeyPair(ethPrivateKey);
  try {
    return openWith(privateKey, publicKey, envelope, expectedHash, subject, target);
  } finally {
    privateKey.fill(0); // derived from the device key: not left for the garbage collector (session.js)
  }
}

function openWith(privateKey, publicKey, envelope, expectedHash, subject, target) {
  const bytes = getBytes(envelope);
  if (bytes.length < 2 || bytes[0] !== VERSION) throw new Unreadable("damaged");
  const count = bytes[1];
  let contentKey = null;
  for (let i = 0; i < count && !contentKey; i++) {
    const box = bytes.slice(2 + i * BOX, 2 + (i + 1) * BOX);
    try {
      contentKey = sodium.crypto_box_seal_open(box, publicKey, privateKey);
    } catch {
      contentKey = null; // sealed to someone else: try the next box
    }
  }
  if (!contentKey) throw new Unreadable("notSealed");
  const body = bytes.slice(2 + count * BOX);
  let data;
  try {
    const plain = sodium.crypto_secretbox_open_easy(body.slice(NONCE), body.slice(0, NONCE), contentKey);
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    throw new Unreadable("damaged");
  } finally {
    contentKey.fill(0);
  }
  const hex64 = /^[0-9a-fA-F]{64}$/;
  if (!data || data.v !== VERSION || typeof data.text !== "string" || ![data.salt, data.subject, data.target].every((h) => hex64.test(h))) {
    throw new Unreadable("damaged");
  }
  if (keccak256(concat(["0x" + data.salt, toUtf8Bytes(data.text)])) !== expectedHash.toLowerCase()) {
    throw new Unreadable("mismatch");
  }
  if (bare(data.subject) !== bare(subject) || bare(data.target) !== bare(target)) throw new Unreadable("otherRequest");
  return data.text;
}
