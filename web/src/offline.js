// Offline: the last known chain state kept on the phone (public chain data only), shown marked "as of" when
// the node cannot be reached; writes refused while offline; the service worker that keeps the app shell.

import { formatTime, t } from "./i18n.js";
import { Ledger } from "./ledger.js";

const VERSION = 1;

// Buttons that send something (or need the chain to answer before they can): disabled while offline.
// Lock, forget and the key's own forms work without the node and stay usable.
const SENDING = [
  "button[data-action]:not([data-action=lock]):not([data-action=forget])",
  "form:not(#unlock-form):not(#create-form):not(#reauth-form) button[type=submit]",
].join(", ");

const bigints = (_key, value) => (typeof value === "bigint" ? { $n: value.toString() } : value);
const revive = (_key, value) =>
  value && typeof value === "object" && typeof value.$n === "string" && Object.keys(value).length === 1
    ? BigInt(value.$n)
    : value;

/** The decoded logs and the few reads the screens need, as of the last good poll. Never a key, passphrase,
 * password or justification text: only what any holder of the chain can read, plus this phone's address. */
export class Snapshot {
  constructor(config) {
    this.slot = `pamchain:snapshot:${config.chain_id}:${config.contract.toLowerCase()}`;
    this.events = [];
    this.dirty = false;
    this.asOf = null;
    try {
      this.asOf = Number(JSON.parse(localStorage.getItem(`${this.slot}:as-of`))) || null;
    } catch {
      this.asOf = null;
    }
  }

  /** A log the app just applied (called for each, in chain order, from the deployment block on). */
  record(event) {
    const args = typeof event.args.toObject === "function" ? event.args.toObject() : event.args;
    this.events.push({ name: event.name, block: event.block, args });
    this.dirty = true;
  }

  /** After every good poll: the time it was true, and the state when it changed. */
  save(app) {
    const address = app.address || app.keys.address();
    if (!address) return; // no key on this phone (yet, or forgotten): nobody to show a state to
    this.asOf = Date.now();
    const times = Object.fromEntries(app.blockTimes);
    const key = `${address}:${app.me}:${app.principal && app.principal.status}:${app.blockTimes.size}`;
    try {
      if (this.dirty || key !== this.savedKey) {
        const data = { v: VERSION, address, me: app.me, principal: app.principal, events: this.events, times };
        localStorage.setItem(this.slot, JSON.stringify(data, bigints));
        this.dirty = false;
        this.savedKey = key;
      }
      localStorage.setItem(`${this.slot}:as-of`, JSON.stringify(this.asOf));
    } catch (exc) {
      console.warn("offline cache not saved", exc); // full storage: the app still works online
    }
  }

  load() {
    try {
      const data = JSON.parse(localStorage.getItem(this.slot), revive);
      return data && data.v === VERSION ? data : null;
    } catch {
      return null;
    }
  }

  /** Show the cached state in a page that has not seen the node yet; true when there was one for this key. */
  restore(app) {
    if (app.loaded || app.fromCache) return app.fromCache;
    const data = this.load();
    const address = app.address || app.keys.address();
    if (!data || !address || String(data.address).toLowerCase() !== address.toLowerCase()) return false;
    const ledger = new Ledger();
    for (const event of data.events) ledger.apply(event);
    app.blockTimes = new Map(Object.entries(data.times).map(([block, time]) => [Number(block), time]));
    for (const r of ledger.requests.values()) {
      for (const receipt of r.receipts) receipt.time = app.blockTimes.get(receipt.block) ?? null;
    }
    app.ledger = ledger;
    app.me = data.me;
    app.principal = data.principal;
    app.fromCache = true;
    return true;
  }

  /** Back online after showing the cache: start again from the deployment block, as a fresh page does. */
  reset(app) {
    if (!app.fromCache) return;
    app.fromCache = false;
    app.ledger = new Ledger();
    app.blockTimes = new Map();
    app.scanned = Math.max(0, (app.config.deployment_block || 0) - 1);
    app.principalSeen = -1;
    this.events = [];
    this.dirty = true;
  }

  /** "Forget this key": its last known state goes with it (the events stay in memory: the page's ledger
   * still holds them, and the next key's snapshot is saved from them). */
  clear() {
    localStorage.removeItem(this.slot);
    localStorage.removeItem(`${this.slot}:as-of`);
    this.asOf = null;
    this.dirty = true;
  }

  /** The banner's text while offline. */
  banner() {
    return this.asOf ? t("offlineAsOf", { time: formatTime(this.asOf / 1000) }) : t("offline");
  }
}

/** Disable (or give back) every control that would send, pointing at the banner that says why. */
export function refuseSending(online) {
  for (const el of document.querySelectorAll(SENDING)) {
    if (!online && !el.disabled) {
      el.disabled = true;
      el.dataset.offline = "true";
      const described = el.getAttribute("aria-describedby");
      el.dataset.describedby = described ?? "";
      el.setAttribute("aria-describedby", described ? `offline ${described}` : "offline");
    } else if (online && el.dataset.offline) {
      el.disabled = false;
      delete el.dataset.offline;
      if (el.dataset.describedby) el.setAttribute("aria-describedby", el.dataset.describedby);
      else el.removeAttribute("aria-describedby");
      delete el.dataset.describedby;
    }
  }
}

/** The service worker (sw.js, written by the build) keeps the app shell for offline starts. */
export function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((exc) => console.warn("no service worker", exc));
}
