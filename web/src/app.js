// The app's shared state and the small helpers every screen uses: the DOM, the clock, names, status lines.

import { concat, keccak256, randomBytes, toUtf8Bytes } from "ethers";
import { ticketText } from "./chain.js";
import { Ledger } from "./ledger.js";
import { Alarms } from "./screens/alarms.js";

export const DENIALS = "pamchain:denials"; // reason hash -> text, the denials this phone sent

export const app = {
  config: null,
  chain: null,
  keys: null,
  passkeys: null,
  passkey: null, // what the chain holds for me (Passkeys.onChain), refreshed on the Device screen
  wallet: null, // the decrypted key: memory only, gone at reload, "lock" or the session's end (session.js)
  session: null, // idle / hidden-tab lock and recent-auth checks (session.js)
  snapshot: null, // the last known state for offline starts (offline.js)
  fromCache: false, // the ledger shown is the offline snapshot, not yet the node's
  address: null,
  me: null, // directory id (0x-hex bytes32) once enrolled
  principal: null, // {domain, status}
  balance: null,
  gasPrice: null, // the node's suggestion; 0n on a free-gas chain, where a zero balance is fine
  online: true,
  loaded: false,
  scanned: 0,
  ledger: new Ledger(),
  alarms: new Alarms(),
  blockTimes: new Map(),
  announced: new Map(), // request id -> last announced key
  principalSeen: -1,
  gate: null,
  route: "home",
  rendered: new Map(), // container id -> last html, so unchanged lists keep their focus
  keyPublished: null, // the address whose encryption key this session published
  keyRetryAt: 0, // after a refused publication, when to try again (ms)
  opened: new Map(), // justification hash -> {text} | {unreadable: code} | {opening: true}: memory only
};

export const $ = (selector) => document.querySelector(selector);
export const now = () => Math.floor(Date.now() / 1000);
export const short = (hex) => `${hex.slice(0, 6)}…${hex.slice(-4)}`;

export function personLabel(id) {
  const entry = (app.config.people || {})[id.toLowerCase()];
  return entry && entry.label ? `${entry.label} (${short(id)})` : short(id);
}

export function groupLabel(target) {
  const dn = (app.config.groups || {})[target.toLowerCase()];
  if (!dn) return short(target);
  const cn = /^CN=((?:\\,|[^,])+)/i.exec(dn);
  return cn ? cn[1].replace(/\\,/g, ",") : dn;
}

export function dcLabel(bytes32) {
  const text = ticketText(bytes32);
  return /^[\x20-\x7e]+$/.test(text) ? text : short(bytes32);
}

export function announce(text) {
  const live = $("#live");
  live.textContent = "";
  // A fresh text node each time so screen readers announce repeated messages too.
  setTimeout(() => {
    live.textContent = text;
  }, 30);
}

export function setFormStatus(id, text, isError = false) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("error", isError);
  el.setAttribute("role", isError ? "alert" : "status");
}

export function savedTexts(slot) {
  try {
    return JSON.parse(localStorage.getItem(slot) || "{}");
  } catch {
    return {};
  }
}

/** `text` salted and hashed for the chain (sdk/payloads/justification.py justification_hash); the text stays here. */
export function saltedHash(slot, text) {
  const hash = keccak256(concat([randomBytes(32), toUtf8Bytes(text)]));
  const saved = savedTexts(slot);
  saved[hash] = text;
  localStorage.setItem(slot, JSON.stringify(saved));
  return hash;
}
