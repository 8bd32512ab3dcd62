// The phone app: key gate, screens, live updates from chain events. Every write is signed in this browser.

import { ZeroHash, concat, keccak256, randomBytes, toUtf8Bytes } from "ethers";
import QRCode from "qrcode";
import { Chain, OfflineError, RpcError, revertReason, ticketRef, ticketText } from "./chain.js";
import { esc } from "./html.js";
import { KNOWN, LANGUAGES, addStrings, formatDuration, formatTime, language, setLanguage, t } from "./i18n.js";
import { Unreadable, announceKey, deviceKeyPair, openJustification, sealJustification, verifyKey } from "./justification.js";
import {
  Action,
  ItemStatus,
  Kind,
  Ledger,
  PASSWORD_RESET_TARGET,
  Reviewer,
  Status,
  UNLOCK_TARGET,
  isFinal,
} from "./ledger.js";
import { Snapshot, refuseSending, registerServiceWorker } from "./offline.js";
import { PasskeyError, Passkeys } from "./passkey.js";
import { MIN_LENGTH, MIN_SCORE, isBreached, localRules, strengthScore } from "./policy.js";
import { explain, policyParams } from "./reasons.js";
import { AlarmKind, Alarms, alarmsHtml, alarmsScreen, readsAlarms } from "./screens/alarms.js";
import { lostDeviceCode, lostSection } from "./screens/lost.js";
import { privacyScreen } from "./screens/privacy.js";
import { SCREEN_STRINGS } from "./screens/strings.js";
import {
  KeyStore,
  StoreError,
  WrongPassphrase,
  deviceKey,
  getJustification,
  publishKey,
  putJustification,
  putPayload,
  sealPassword,
} from "./secrets.js";
import { Session } from "./session.js";
import "./style.css";

const ROUTES = ["home", "elevate", "password", "approvals", "reviews", "alarms", "history", "device"];
const PRINCIPAL_ACTIVE = 1;
const DENIALS = "pamchain:denials"; // reason hash -> text, the denials this phone sent

addStrings(SCREEN_STRINGS);

const app = {
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

// --- helpers ----------------------------------------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);
const now = () => Math.floor(Date.now() / 1000);
const short = (hex) => `${hex.slice(0, 6)}…${hex.slice(-4)}`;

function personLabel(id) {
  const entry = (app.config.people || {})[id.toLowerCase()];
  return entry && entry.label ? `${entry.label} (${short(id)})` : short(id);
}

function groupLabel(target) {
  const dn = (app.config.groups || {})[target.toLowerCase()];
  if (!dn) return short(target);
  const cn = /^CN=((?:\\,|[^,])+)/i.exec(dn);
  return cn ? cn[1].replace(/\\,/g, ",") : dn;
}

function dcLabel(bytes32) {
  const text = ticketText(bytes32);
  return /^[\x20-\x7e]+$/.test(text) ? text : short(bytes32);
}

function announce(text) {
  const live = $("#live");
  live.textContent = "";
  // A fresh text node each time so screen readers announce repeated messages too.
  setTimeout(() => {
    live.textContent = text;
  }, 30);
}

function setFormStatus(id, text, isError = false) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("error", isError);
  el.setAttribute("role", isError ? "alert" : "status");
}

/** The "why" of a request for its approver: the text opened on this phone, or why it cannot be read. */
function justificationCell(r) {
  const hash = r.justificationHash;
  if (hash === ZeroHash) return `<dd class="justification" data-state="none">${esc(t("noJustification"))}</dd>`;
  const found = app.opened.get(hash);
  if (!found) openLater(r);
  if (found && found.text !== undefined) {
    return `<dd class="justification" data-state="clear">${esc(found.text)}</dd>`;
  }
  if (found && found.unreadable) {
    const code = found.unreadable;
    const reason = t(`unreadable${code[0].toUpperCase()}${code.slice(1)}`);
    return `<dd class="justification unreadable" data-state="unreadable" role="note">${esc(t("justificationUnreadable", { reason }))}</dd>`;
  }
  return `<dd class="justification" data-state="opening">${esc(t("justificationOpening"))}</dd>`;
}

/** Fetch and open a request's sealed justification with this device's key; remembered for the session.
 * A refusal, a miss or bad bytes are final ("cannot be read"); an unreachable store is tried again later. */
async function openLater(r) {
  const hash = r.justificationHash;
  if (app.opened.has(hash) || !app.wallet) return;
  app.opened.set(hash, { opening: true });
  let result;
  try {
    const envelope = await getJustification(app.config.payload_path, app.wallet, hash);
    result = { text: await openJustification(app.wallet.privateKey, envelope, hash, r.subject, r.target) };
  } catch (exc) {
    if (exc instanceof Unreadable) result = { unreadable: exc.code };
    else if (exc instanceof StoreError && exc.status === 404) result = { unreadable: "missing" };
    else if (exc instanceof StoreError && exc.status >= 400 && exc.status < 500 && exc.status !== 429) {
      result = { unreadable: "forbidden" };
    } else {
      setTimeout(() => app.opened.get(hash)?.opening && app.opened.delete(hash), 3000); // retry
      return;
    }
  }
  app.opened.set(hash, result);
  renderDynamic();
}

/** Publish this device's encryption key once per session, so requesters can seal justifications to it. */
async function publishDeviceKey() {
  if (!app.wallet || !app.me || app.keyPublished === app.wallet.address || !app.config.payload_path) return;
  if (Date.now() < app.keyRetryAt) return;
  app.keyPublished = app.wallet.address;
  try {
    await publishKey(app.config.payload_path, await announceKey(app.wallet, app.config.chain_id));
  } catch (exc) {
    // The store learns new enrolments from the chain every few seconds: try again then, not at every poll
    // (every phone behind the relay shares the store's rate limit).
    app.keyPublished = null;
    app.keyRetryAt = Date.now() + 5000;
    console.warn(`publishing the encryption key: ${exc.message || exc}`);
  }
}

/** The requester's own key and the verified key of every active approver of `target` but the requester
 * (sealed_justifications.recipients): a key counts only if the approver's current device signed it. */
async function justificationRecipients(target) {
  const { privateKey, publicKey } = await deviceKeyPair(app.wallet.privateKey);
  privateKey.fill(0); // sealing needs only the public half
  const keys = [publicKey];
  for (const approver of await app.chain.call("policy_approvers", [target])) {
    if (approver.toLowerCase() === app.me.toLowerCase()) continue;
    const [device, , status] = await app.chain.call("principal", [approver]);
    if (Number(status) !== PRINCIPAL_ACTIVE) continue;
    const announcement = await deviceKey(app.config.payload_path, device);
    if (!announcement) continue;
    try {
      keys.push(verifyKey(announcement, app.config.chain_id, device));
    } catch {
      /* a key its device did not sign: leave that approver out */
    }
  }
  return keys;
}

function savedTexts(slot) {
  try {
    return JSON.parse(localStorage.getItem(slot) || "{}");
  } catch {
    return {};
  }
}

/** `text` salted and hashed for the chain (sdk/payloads/justification.py justification_hash); the text stays here. */
function saltedHash(slot, text) {
  const hash = keccak256(concat([randomBytes(32), toUtf8Bytes(text)]));
  const saved = savedTexts(slot);
  saved[hash] = text;
  localStorage.setItem(slot, JSON.stringify(saved));
  return hash;
}

// --- shell ------------------------------------------------------------------------------------------------

function renderShell() {
  document.documentElement.lang = language();
  document.title = t("appTitle");
  const options = KNOWN.map(
    (code) =>
      `<option value="${code}" lang="${code}"${code === language() ? " selected" : ""}>${LANGUAGES[code]}</option>`,
  ).join("");
  document.getElementById("app").innerHTML = `
    <a class="skip" href="#main">${esc(t("skip"))}</a>
    <header class="top">
      <h1 class="brand">pamchain</h1>
      <label class="lang"><span class="visually-hidden">${esc(t("language"))}</span>
        <select id="lang" aria-label="${esc(t("language"))}">${options}</select></label>
    </header>
    <div id="offline" class="banner" role="status" aria-live="polite" ${app.online ? "hidden" : ""}>${esc(app.online ? "" : app.snapshot.banner())}</div>
    <nav id="nav" aria-label="${esc(t("nav"))}" hidden></nav>
    <main id="main" tabindex="-1"></main>
    <footer class="foot"><a href="#/privacy" id="privacy-link">${esc(t("privacyLink"))}</a></footer>
    <div id="live" class="visually-hidden" role="status" aria-live="polite"></div>`;
  $("#lang").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    app.rendered.clear();
    renderShell();
    render(true);
    $("#lang").focus();
  });
}

function renderNav() {
  const nav = $("#nav");
  if (app.gate !== "app") {
    nav.hidden = true;
    nav.innerHTML = "";
    return;
  }
  const waiting = app.me ? app.ledger.waitingFor(app.me, now()).length : 0;
  const toReview = app.me ? app.ledger.toReview(app.me, now()).length : 0;
  const shown = (r) =>
    (r !== "approvals" || app.ledger.isApprover(app.me)) &&
    (r !== "reviews" || (app.me && app.ledger.reviewedBy(app.me).length > 0)) &&
    (r !== "alarms" || readsAlarms(app.config, app.ledger, app.me));
  const items = ROUTES.filter(shown).map((route) => {
    const name = t(`nav${route[0].toUpperCase()}${route.slice(1)}`);
    const count = { approvals: waiting, reviews: toReview }[route];
    const badge = count ? ` <span class="badge">${count}</span>` : "";
    const current = route === app.route ? ' aria-current="page"' : "";
    return `<li><a href="#/${route}"${current}>${esc(name)}${badge}</a></li>`;
  });
  const html = `<ul>${items.join("")}</ul>`;
  if (app.rendered.get("nav") !== html) {
    nav.innerHTML = html;
    app.rendered.set("nav", html);
  }
  nav.hidden = false;
}

function currentGate() {
  if (!app.keys.exists()) return "create";
  if (!app.wallet) return "unlock";
  if (!app.me) return "enrol";
  return "app";
}

/** Render the current screen; `force` rebuilds forms too (route, gate or language changed). */
function render(force = false) {
  const gate = currentGate();
  const route = (location.hash.replace(/^#\/?/, "") || "home").split("?")[0];
  const nextRoute = ROUTES.includes(route) || route === "privacy" ? route : "home";
  // The terms are reachable from every screen, before a key exists too.
  const shownGate = nextRoute === "privacy" ? "privacy" : gate;
  const changed = force || shownGate !== app.gate || (gate === "app" && nextRoute !== app.route);
  app.gate = shownGate;
  app.route = nextRoute;
  renderNav();
  if (changed) {
    // The screen's lists are new elements: fill them again even if their content did not change.
    for (const key of [...app.rendered.keys()]) if (key !== "nav") app.rendered.delete(key);
    const main = $("#main");
    main.innerHTML = screen();
    bindScreen();
    const heading = main.querySelector("h2");
    if (heading && !force) heading.focus();
  }
  renderDynamic();
}

function screen() {
  switch (app.gate) {
    case "privacy":
      return privacyScreen(currentGate() === "app" ? "#/home" : "#/");
    case "create":
      return `<h2 tabindex="-1">${esc(t("createTitle"))}</h2>
        <p>${esc(t("createIntro"))}</p>
        <form id="create-form" novalidate>
          <input type="text" autocomplete="username" value="pamchain-device" hidden aria-hidden="true">
          <label for="pass1">${esc(t("passphrase"))}</label>
          <input id="pass1" type="password" autocomplete="new-password" required minlength="8" aria-describedby="pass-hint">
          <p id="pass-hint" class="hint">${esc(t("passphraseHint"))}</p>
          <label for="pass2">${esc(t("passphraseConfirm"))}</label>
          <input id="pass2" type="password" autocomplete="new-password" required>
          <button type="submit" class="primary">${esc(t("create"))}</button>
          <p id="create-status" class="form-status" role="status"></p>
        </form>`;
    case "unlock":
      return `<h2 tabindex="-1">${esc(t("unlockKeyTitle"))}</h2>
        <p>${esc(t("unlockKeyIntro"))}</p>
        <p class="mono">${esc(app.keys.address() || "")}</p>
        <form id="unlock-form" novalidate>
          <input type="text" autocomplete="username" value="pamchain-device" hidden aria-hidden="true">
          <label for="pass">${esc(t("passphrase"))}</label>
          <input id="pass" type="password" autocomplete="current-password" required aria-describedby="unlock-status">
          <button type="submit" class="primary">${esc(t("unlockKey"))}</button>
          <p id="unlock-status" class="form-status" role="status"></p>
        </form>
        <button type="button" class="link" data-action="forget">${esc(t("forgetKey"))}</button>`;
    case "enrol":
      return deviceScreen();
    default:
      return routeScreen();
  }
}

function deviceScreen() {
  return `<h2 tabindex="-1">${esc(t("deviceTitle"))}</h2>
    <p id="enrol-state" role="status" aria-live="polite"></p>
    <h3>${esc(t("deviceAddress"))}</h3>
    <p id="device-address" class="mono address">${esc(app.address)}</p>
    <div id="qr" class="qr"></div>
    <p id="funds" class="hint" role="status"></p>
    ${demoButton()}
    ${app.me ? passkeySection() : ""}
    ${app.me ? lostSection() : ""}
    <div class="row">
      <button type="button" data-action="lock">${esc(t("lockKey"))}</button>
      <button type="button" class="link" data-action="forget">${esc(t("forgetKey"))}</button>
    </div>`;
}

function passkeySection() {
  return `<h3 id="passkey-title">${esc(t("passkeyTitle"))}</h3>
    <p>${esc(t("passkeyIntro"))}</p>
    <p id="passkey-state" role="status" aria-live="polite"></p>
    <button type="button" id="passkey-register" data-action="passkey-register">${esc(t("passkeyRegister"))}</button>
    <p id="passkey-status" class="form-status" role="status"></p>
    <div id="passkey-registration-box" hidden>
      <label for="passkey-registration">${esc(t("passkeyRegistration"))}</label>
      <textarea id="passkey-registration" class="mono" rows="6" readonly aria-describedby="passkey-registration-hint"></textarea>
      <p id="passkey-registration-hint" class="hint">${esc(t("passkeyRegistrationHint"))}</p>
      <a id="passkey-download" download="passkey-registration.json" href="#">${esc(t("download"))}</a>
    </div>
    <h3>${esc(t("exportTitle"))}</h3>
    <p id="export-hint" class="hint">${esc(t("exportHint"))}</p>
    <button type="button" id="export-key" data-action="export-key" aria-describedby="export-hint">${esc(t("exportKey"))}</button>
    <p id="export-status" class="form-status" role="status"></p>
    <div id="export-box" hidden>
      <label for="exported-key">${esc(t("exportedKey"))}</label>
      <textarea id="exported-key" class="mono" rows="6" readonly></textarea>
      <a id="export-download" download="pamchain-device-keystore.json" href="#">${esc(t("download"))}</a>
    </div>`;
}

function demoButton() {
  const demo = app.config.demo;
  if (!demo || app.me) return "";
  return `<button type="button" class="primary" data-action="demo-enrol" aria-describedby="demo-hint">${esc(t("demoEnrol", { label: demo.label }))}</button>
    <p id="demo-hint" class="hint">${esc(t("demoHint"))}</p>
    <p id="demo-status" class="form-status" role="status"></p>`;
}

async function demoEnrol() {
  setFormStatus("demo-status", t("signing"));
  const response = await fetch("api/demo-enrol", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ address: app.address }),
  });
  if (!response.ok) return setFormStatus("demo-status", t("txFailed", { reason: await response.text() }), true);
  return poll();
}

function routeScreen() {
  switch (app.route) {
    case "elevate":
      return elevateScreen();
    case "password":
      return passwordScreen();
    case "approvals":
      return `<h2 tabindex="-1">${esc(t("approvalsTitle"))}</h2><div id="pending-list"></div>${denyForm()}`;
    case "alarms":
      return alarmsScreen();
    case "reviews":
      return `<h2 tabindex="-1">${esc(t("reviewsTitle"))}</h2>
        <p>${esc(t("reviewsIntro"))}</p>
        <div id="review-list"></div>
        <p id="review-status" class="form-status" role="status"></p>
        <h3>${esc(t("reviewsDone"))}</h3>
        <div id="reviewed-list"></div>`;
    case "history":
      return `<h2 tabindex="-1">${esc(t("historyTitle"))}</h2><div id="history-list"></div>`;
    case "device":
      return deviceScreen();
    default:
      return `<h2 tabindex="-1">${esc(t("homeTitle"))}</h2>
        <p>${esc(t("homeIntro"))}</p>
        <button type="button" class="primary big" id="unlock-account" data-action="unlock-account">${esc(t("unlockAccount"))}</button>
        <p id="home-status" class="form-status" role="status"></p>
        <h3>${esc(t("myRequests"))}</h3>
        <div id="mine-list"></div>`;
  }
}

function elevateScreen() {
  const groups = app.ledger.groups();
  if (!groups.length) return `<h2 tabindex="-1">${esc(t("elevateTitle"))}</h2><p>${esc(t("noGroups"))}</p>`;
  const options = groups
    .map((p) => `<option value="${p.target}">${esc(groupLabel(p.target))}</option>`)
    .join("");
  return `<h2 tabindex="-1">${esc(t("elevateTitle"))}</h2>
    <form id="elevate-form" novalidate>
      <label for="group">${esc(t("group"))}</label>
      <select id="group" required>${options}</select>
      <fieldset class="duration">
        <legend>${esc(t("duration"))}</legend>
        <div class="row">
          <label class="visually-hidden" for="duration">${esc(t("duration"))}</label>
          <input id="duration" type="number" inputmode="numeric" min="1" step="1" value="30" required aria-describedby="duration-hint">
          <label class="visually-hidden" for="unit">${esc(t("unit"))}</label>
          <select id="unit">
            <option value="1">${esc(t("seconds"))}</option>
            <option value="60" selected>${esc(t("minutes"))}</option>
            <option value="3600">${esc(t("hours"))}</option>
          </select>
        </div>
        <p id="duration-hint" class="hint"></p>
      </fieldset>
      <label for="justification">${esc(t("justification"))}</label>
      <textarea id="justification" rows="3" aria-describedby="justification-hint"></textarea>
      <p id="justification-hint" class="hint">${esc(t("justificationHint"))}</p>
      <label for="ticket">${esc(t("ticket"))}</label>
      <input id="ticket" type="text" maxlength="32" autocomplete="off" aria-describedby="ticket-hint">
      <p id="ticket-hint" class="hint">${esc(t("ticketHint"))}</p>
      <label class="check"><input id="break-glass" type="checkbox" aria-describedby="break-glass-hint"> ${esc(t("breakGlass"))}</label>
      <p id="break-glass-hint" class="hint">${esc(t("breakGlassHint"))}</p>
      <div id="break-glass-warning" class="warning" hidden>
        <h3>${esc(t("breakGlassWarningTitle"))}</h3>
        <p>${esc(t("breakGlassWarning"))}</p>
        <p id="break-glass-rules"></p>
      </div>
      <button type="submit" class="primary">${esc(t("askElevation"))}</button>
      <p id="elevate-status" class="form-status" role="status"></p>
      <p id="alarm-raised" class="warning" role="alert" hidden></p>
    </form>`;
}

/** One form for denials, below the list (the list re-renders as approvals arrive; a typed reason must not). */
function denyForm() {
  return `<form id="deny-form" novalidate hidden>
      <h3 id="deny-title" tabindex="-1"></h3>
      <label for="deny-reason">${esc(t("denyReason"))}</label>
      <textarea id="deny-reason" rows="3" required aria-describedby="deny-hint"></textarea>
      <p id="deny-hint" class="hint">${esc(t("denyReasonHint"))}</p>
      <div class="row">
        <button type="submit" class="danger" id="deny-confirm">${esc(t("denyConfirm"))}</button>
        <button type="button" id="deny-cancel">${esc(t("denyCancel"))}</button>
      </div>
      <p id="deny-status" class="form-status" role="status"></p>
    </form>`;
}

function passwordScreen() {
  const rule = (id, text) => `<li id="rule-${id}" data-ok="false">${esc(text)}</li>`;
  return `<h2 tabindex="-1">${esc(t("passwordTitle"))}</h2>
    <p>${esc(t("passwordIntro"))}</p>
    <form id="password-form" novalidate>
      <label for="pw1">${esc(t("newPassword"))}</label>
      <input id="pw1" type="password" autocomplete="new-password" required aria-describedby="rules">
      <label for="pw2">${esc(t("newPasswordConfirm"))}</label>
      <input id="pw2" type="password" autocomplete="new-password" required>
      <label class="check"><input id="pw-show" type="checkbox"> ${esc(t("showPassword"))}</label>
      <h3 id="rules-title">${esc(t("rules"))}</h3>
      <ul id="rules" class="rules" aria-labelledby="rules-title">
        ${rule("length", t("ruleLength", { min: MIN_LENGTH }))}
        ${rule("classes", t("ruleClasses"))}
        ${rule("name", t("ruleName"))}
        ${rule("control", t("ruleControl"))}
        <li id="rule-strength" data-ok="unknown">${esc(t("ruleStrength", { min: MIN_SCORE }))}</li>
        <li id="rule-breached" data-ok="unknown">${esc(t("ruleBreached"))}</li>
      </ul>
      <button type="submit" class="primary">${esc(t("sendPassword"))}</button>
      <p id="password-status" class="form-status" role="status"></p>
    </form>`;
}

// --- dynamic parts (lists, countdowns, enrolment state) ---------------------------------------------------

function update(id, html) {
  const el = document.getElementById(id);
  if (!el || app.rendered.get(id) === html) return;
  const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : null;
  el.innerHTML = html;
  app.rendered.set(id, html);
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function receiptText(receipt) {
  const vars = { dc: dcLabel(receipt.dc), time: receipt.time ? formatTime(receipt.time) : "…" };
  return receipt.outcome === 1 ? t(`receiptApplied${receipt.action}`, vars) : t("receiptFailed", vars);
}

function requestTitle(r) {
  const what = r.kind === Kind.ELEVATE ? `${t("kind2")} · ${groupLabel(r.target)}` : t(`kind${r.kind}`);
  return `${t("requestN", { id: r.id })} · ${what}`;
}

function requestItem(r, { actions = true } = {}) {
  const status = Ledger.status(r, now());
  let timer = "";
  if (status === Status.ACTIVE) {
    timer = `<p class="countdown" data-until="${r.expiry}" data-label="endsIn"></p>`;
  } else if (status === Status.PENDING) {
    timer = `<p class="countdown" data-until="${r.deadline}" data-label="expiresIn"></p>`;
  }
  const receipts = r.receipts
    .map((rc) => `<li class="receipt ${rc.outcome === 1 ? "ok" : "bad"}">${esc(receiptText(rc))}</li>`)
    .join("");
  let buttons = "";
  if (actions && status === Status.PENDING) {
    buttons = `<button type="button" id="cancel-${r.id}" data-action="cancel" data-id="${r.id}" aria-label="${esc(t("cancelLabel", { id: r.id }))}">${esc(t("cancel"))}</button>`;
  } else if (actions && status === Status.ACTIVE) {
    buttons = `<button type="button" id="revoke-${r.id}" data-action="revoke" data-id="${r.id}" aria-label="${esc(t("revokeLabel", { id: r.id }))}">${esc(t("revoke"))}</button>`;
  }
  let detail =
    r.kind === Kind.ELEVATE
      ? `<p class="meta">${esc(formatDuration(r.duration))} · ${esc(t("approvalsCount"))} ${r.approvals}/${r.approvalsRequired}</p>`
      : "";
  if (r.breakGlass) detail += `<p class="tag alarm-tag">${esc(t("breakGlassTag"))}</p>`;
  if (status === Status.DENIED && r.deniedBy) detail += denialText(r);
  return `<li class="request" id="request-${r.id}" data-status="${status}">
      <h4>${esc(requestTitle(r))}</h4>
      <p class="status status-${status}">${esc(t(`status${status}`))}</p>
      ${detail}${timer}
      ${receipts ? `<ul class="receipts">${receipts}</ul>` : ""}
      ${buttons}
    </li>`;
}

/** Who denied, and the reason when this phone sent it; the chain holds only its salted hash. */
function denialText(r) {
  const lines = [t("deniedBy", { who: r.deniedBy === app.me ? t("reviewYou") : personLabel(r.deniedBy) })];
  if (r.denyReasonHash && r.denyReasonHash !== ZeroHash) {
    const mine = savedTexts(DENIALS)[r.denyReasonHash];
    lines.push(mine ? t("deniedReasonMine", { reason: mine }) : t("deniedReasonOffChain"));
  }
  return `<p class="denial">${lines.map(esc).join(" ")}</p>`;
}

function pendingItem(r) {
  const policy = app.ledger.policies.get(r.target);
  const what = r.kind === Kind.ELEVATE ? `${t("kind2")} · ${groupLabel(r.target)}` : t(`kind${r.kind}`);
  const ticket = ticketText(r.ticket);
  return `<li class="request" id="pending-${r.id}">
      <h4>${esc(t("requestN", { id: r.id }))}</h4>
      <dl>
        <dt>${esc(t("who"))}</dt><dd>${esc(personLabel(r.subject))}</dd>
        <dt>${esc(t("what"))}</dt><dd>${esc(what)}</dd>
        <dt>${esc(t("why"))}</dt>${justificationCell(r)}
        ${r.breakGlass ? `<dt>${esc(t("breakGlassWarningTitle"))}</dt><dd class="alarm-tag">${esc(t("breakGlassTag"))}</dd>` : ""}
        ${r.kind === Kind.ELEVATE ? `<dt>${esc(t("howLong"))}</dt><dd>${esc(formatDuration(r.duration))}</dd>` : ""}
        ${ticket ? `<dt>${esc(t("ticketRef"))}</dt><dd>${esc(ticket)}</dd>` : ""}
        <dt>${esc(t("approvalsCount"))}</dt><dd>${r.approvals}/${r.approvalsRequired || (policy ? policy.approvalsRequired : "?")}</dd>
        <dt>${esc(t("deadline"))}</dt><dd class="countdown" data-until="${r.deadline}"></dd>
      </dl>
      <div class="row">
        <button type="button" class="primary" id="approve-${r.id}" data-action="approve" data-id="${r.id}" aria-label="${esc(t("approveLabel", { id: r.id }))}">${esc(t("approve"))}</button>
        <button type="button" class="danger" id="deny-${r.id}" data-action="deny" data-id="${r.id}" aria-label="${esc(t("denyLabel", { id: r.id }))}">${esc(t("deny"))}</button>
      </div>
    </li>`;
}

function campaignLabel(campaign) {
  const text = ticketText(campaign.label);
  return text ? t("campaignNamed", { id: campaign.id, label: text }) : t("campaignN", { id: campaign.id });
}

function reviewWhat(item) {
  if (item.target === ZeroHash) return t("reviewAccount");
  return t("reviewRequester", { group: groupLabel(item.target) });
}

function reviewItem(item) {
  const campaign = app.ledger.campaigns.get(item.campaignId);
  const self = campaign.reviewer === Reviewer.SELF;
  const who = self ? t("reviewYou") : personLabel(item.principal);
  const id = `${item.campaignId}-${item.itemId}`;
  return `<li class="request" id="review-${id}">
      <h4>${esc(campaignLabel(campaign))}</h4>
      <dl>
        <dt>${esc(t("who"))}</dt><dd>${esc(who)}</dd>
        <dt>${esc(t("what"))}</dt><dd>${esc(reviewWhat(item))}</dd>
        <dt>${esc(t("ifNotConfirmed"))}</dt><dd>${esc(t(`onLapse${campaign.onLapse}`))}</dd>
        <dt>${esc(t("deadline"))}</dt><dd class="countdown" data-until="${campaign.deadline}"></dd>
      </dl>
      <button type="button" class="primary" id="confirm-review-${id}" data-action="confirm-review" data-campaign="${item.campaignId}" data-item="${item.itemId}" aria-label="${esc(t("confirmReviewLabel", { item: item.itemId, campaign: item.campaignId }))}">${esc(t(self ? "confirmOwn" : "confirmOther"))}</button>
    </li>`;
}

function reviewedItem(item) {
  const campaign = app.ledger.campaigns.get(item.campaignId);
  const who = item.principal === app.me ? t("reviewYou") : personLabel(item.principal);
  return `<li class="request" id="reviewed-${item.campaignId}-${item.itemId}">
      <h4>${esc(campaignLabel(campaign))}</h4>
      <p class="meta">${esc(who)} · ${esc(reviewWhat(item))}</p>
      <p class="status">${esc(t(`itemStatus${item.status}`))}</p>
    </li>`;
}

function renderDynamic() {
  const t0 = now();
  if (app.gate === "enrol" || (app.gate === "app" && app.route === "device")) {
    let text = t("enrolWaiting");
    if (app.me) {
      text =
        app.principal && app.principal.status === 2 ? t("suspended") : t("enrolled", { who: personLabel(app.me) });
    }
    const el = $("#enrol-state");
    if (el && el.textContent !== text) el.textContent = text;
    const funds = $("#funds");
    const needsFunds = app.balance === 0n && app.gasPrice !== null && app.gasPrice > 0n;
    if (funds) funds.textContent = app.me && needsFunds ? t("fundsLow") : "";
    const passkey = $("#passkey-state");
    if (passkey && passkey.textContent !== passkeyStateText()) passkey.textContent = passkeyStateText();
    // The registration is for the council: once the chain holds this very key, it is no longer needed here.
    const box = $("#passkey-registration-box");
    if (box && app.passkeys.local() && app.passkeys.local().registration) box.hidden = passkeyIsMine();
  }
  if (app.gate === "app" && app.me) {
    const mine = app.ledger.mine(app.me);
    const live = mine.filter((r) => !isFinal(Ledger.status(r, t0)) || recentlyFinal(r, t0));
    update(
      "mine-list",
      live.length ? `<ul class="requests">${live.map((r) => requestItem(r)).join("")}</ul>` : `<p>${esc(t("noRequests"))}</p>`,
    );
    update(
      "history-list",
      mine.length
        ? `<ul class="requests">${mine.map((r) => requestItem(r, { actions: false })).join("")}</ul>`
        : `<p>${esc(t("noHistory"))}</p>`,
    );
    const waiting = app.ledger.waitingFor(app.me, t0);
    update(
      "pending-list",
      waiting.length ? `<ul class="requests">${waiting.map(pendingItem).join("")}</ul>` : `<p>${esc(t("noPending"))}</p>`,
    );
    const toReview = app.ledger.toReview(app.me, t0);
    update(
      "review-list",
      toReview.length ? `<ul class="requests">${toReview.map(reviewItem).join("")}</ul>` : `<p>${esc(t("noReviews"))}</p>`,
    );
    const done = app.ledger.reviewedBy(app.me).filter((item) => item.status !== ItemStatus.PENDING);
    update(
      "reviewed-list",
      done.length ? `<ul class="requests">${done.map(reviewedItem).join("")}</ul>` : `<p>${esc(t("noReviewsDone"))}</p>`,
    );
    if (document.getElementById("alarm-list")) update("alarm-list", alarmsHtml(app.alarms, alarmLabels()));
    renderElevateHint();
  }
  refuseSending(app.online);
  tickCountdowns();
}

function alarmLabels() {
  return {
    person: personLabel,
    target: (target) =>
      target === UNLOCK_TARGET ? t("kind1") : target === PASSWORD_RESET_TARGET ? t("kind3") : groupLabel(target),
    dc: dcLabel,
    short,
    time: formatTime,
  };
}

/** A request that finished in the last minute stays on the home screen, so its receipt can be read there. */
function recentlyFinal(r, t0) {
  const last = r.receipts.length ? r.receipts[r.receipts.length - 1].time : null;
  return last !== null && t0 - last < 60;
}

function tickCountdowns() {
  const t0 = Date.now() / 1000;
  for (const el of document.querySelectorAll(".countdown[data-until]")) {
    const left = Number(el.dataset.until) - t0;
    const time = formatDuration(Math.max(0, Math.ceil(left)));
    el.textContent = el.dataset.label ? t(el.dataset.label, { time }) : time;
  }
}

function renderElevateHint() {
  const hint = $("#duration-hint");
  const select = $("#group");
  if (!hint || !select) return;
  const policy = app.ledger.policies.get(select.value);
  const text = policy && policy.maxDuration ? t("maxDuration", { max: formatDuration(policy.maxDuration) }) : "";
  if (hint.textContent !== text && !hint.classList.contains("error")) hint.textContent = text;
}

function passkeyStateText() {
  const state = app.passkey;
  if (!app.passkeys.supported()) return t("passkeyUnsupported");
  if (!state) return t("loading");
  if (!state.factors) return t("passkeyNoFactors");
  if (!state.rpMatches) return t("passkeyRpMismatch", { host: location.hostname });
  const local = app.passkeys.local();
  if (Passkeys.required(state)) return passkeyIsMine() ? t("passkeyOnChain") : t("passkeyOtherOnChain");
  return local ? t("passkeyWaiting") : t("passkeyNone");
}

/** Whether the key the chain holds for me is the one this phone created. */
function passkeyIsMine() {
  const state = app.passkey;
  const local = app.passkeys.local();
  return Boolean(state && local && Passkeys.required(state) && BigInt(local.x) === state.x && BigInt(local.y) === state.y);
}

// --- actions ----------------------------------------------------------------------------------------------

/** Why something failed, in the user's terms: contract refusals from the shared table (sdk/data/reasons.json),
 * with `params` (the request's policy) where the sentence says more. */
function failureText(exc, params = null) {
  if (exc instanceof OfflineError) return t("offlineRefused");
  if (exc instanceof PasskeyError) return t(`passkey${exc.code}`, { host: location.hostname });
  const reason = exc instanceof RpcError ? revertReason(exc) : exc.message || String(exc);
  return t("txFailed", { reason: explain(reason, language(), params) || reason });
}

/** The policy a request names, read from chain, as a reason's parameters; null if there is none to read. */
async function policyParamsFor(target, breakGlass) {
  try {
    const policy = await app.chain.call("policy", [target]);
    return policyParams(policy, groupLabel(target), breakGlass, language());
  } catch {
    return null;
  }
}

// Requests whose refusals the policy explains: fn -> [target, break-glass?] from the call's arguments.
const POLICY_OF = {
  request_elevation: (args) => [args[0], Boolean(args[4])],
  request_break_glass: (args) => [args[0], true],
  request_unlock: () => [UNLOCK_TARGET, false],
};

/** Ask the passkey (when the chain wants one from me) and send what `prepare(state)` returns: [fn, args].
 * A ceremony that fails sends nothing. */
async function transactWithPasskey(statusId, prepare, onDone) {
  let call;
  try {
    setFormStatus(statusId, t("passkeyChecking"));
    const state = await app.passkeys.onChain(app.me);
    app.passkey = state;
    if (Passkeys.required(state)) setFormStatus(statusId, t("passkeyAsking"));
    call = await prepare(state);
  } catch (exc) {
    return setFormStatus(statusId, failureText(exc), true);
  }
  return transact(statusId, call[0], call[1], onDone);
}

function approveRequest(id) {
  return transactWithPasskey("pending-status", async (state) => {
    if (!Passkeys.required(state)) return ["approve", [id]];
    const challenge = await app.chain.call("approval_challenge", [id, app.me]);
    const { encoded } = await app.passkeys.assert(challenge, state.requireUv);
    return ["approve_with_assertion", [id, encoded]];
  });
}

/** The registration for the council, as text to copy and as a file to download. */
function showRegistration(registration) {
  const text = JSON.stringify(registration, null, 2);
  $("#passkey-registration").value = text;
  $("#passkey-download").href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  $("#passkey-registration-box").hidden = false;
}

async function registerPasskey() {
  const button = $("#passkey-register");
  button.disabled = true;
  setFormStatus("passkey-status", t("passkeyCreating"));
  try {
    const state = await app.passkeys.onChain(app.me);
    app.passkey = state;
    if (!state.factors) throw new PasskeyError("NoFactors");
    if (!state.rpMatches) throw new PasskeyError("RpMismatch");
    const entry = (app.config.people || {})[app.me.toLowerCase()];
    const name = entry && entry.account ? entry.account : `pamchain ${short(app.me)}`;
    showRegistration(await app.passkeys.register(app.wallet, app.me, name, state.requireUv));
    setFormStatus("passkey-status", t("passkeyCreated"));
    announce(t("passkeyCreated"));
  } catch (exc) {
    setFormStatus("passkey-status", failureText(exc), true);
  } finally {
    button.disabled = false;
    renderDynamic();
  }
}

/** The encrypted keystore, handed out only after a fresh user-verified answer from the passkey on chain. */
async function exportKey() {
  $("#export-box").hidden = true;
  $("#exported-key").value = "";
  setFormStatus("export-status", t("passkeyAsking"));
  try {
    const state = await app.passkeys.onChain(app.me);
    app.passkey = state;
    await app.passkeys.verifyFresh(state);
  } catch (exc) {
    return setFormStatus("export-status", failureText(exc), true);
  }
  const json = app.keys.json();
  $("#exported-key").value = json;
  $("#export-download").href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  $("#export-box").hidden = false;
  setFormStatus("export-status", t("exported"));
  return announce(t("exported"));
}

async function transact(statusId, fn, args, onDone, which = "pam") {
  if (!app.online) return setFormStatus(statusId, t("offlineRefused"), true); // refused, never queued
  setFormStatus(statusId, t("signing"));
  try {
    const result = await app.chain.send(app.wallet, fn, args, which);
    const created = result.events.find((e) => e.name === "RequestCreated");
    const message = created ? t("sent", { id: Number(created.args.request_id) }) : t("done");
    setFormStatus(statusId, message);
    announce(message);
    await poll(); // show the new state at once, not at the next tick
    if (onDone) onDone(result);
  } catch (exc) {
    const policyOf = exc instanceof RpcError && POLICY_OF[fn];
    const params = policyOf ? await policyParamsFor(...policyOf(args)) : null;
    setFormStatus(statusId, failureText(exc, params), true);
  }
}

function bindScreen() {
  const main = $("#main");
  const createForm = $("#create-form");
  if (createForm) {
    createForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const p1 = $("#pass1").value;
      const p2 = $("#pass2").value;
      if (p1.length < 8) return setFormStatus("create-status", t("passphraseShort"), true);
      if (p1 !== p2) return setFormStatus("create-status", t("passphraseMismatch"), true);
      setFormStatus("create-status", t("creating"));
      createForm.querySelector("button").disabled = true;
      $("#pass1").value = "";
      $("#pass2").value = "";
      app.wallet = await app.keys.create(p1);
      app.address = app.wallet.address;
      app.session.start();
      await poll();
      render();
    });
  }
  const unlockForm = $("#unlock-form");
  if (unlockForm) {
    unlockForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = unlockForm.querySelector("button");
      button.disabled = true;
      setFormStatus("unlock-status", t("unlockingKey"));
      try {
        const passphrase = $("#pass").value;
        $("#pass").value = ""; // the field would keep it for as long as the page lives
        app.wallet = await app.keys.unlock(passphrase);
        app.address = app.wallet.address;
        app.session.start();
        await poll();
        render();
      } catch (exc) {
        button.disabled = false;
        const message = exc instanceof WrongPassphrase ? t("wrongPassphrase") : String(exc.message || exc);
        setFormStatus("unlock-status", message, true);
        $("#pass").setAttribute("aria-invalid", "true");
        $("#pass").select();
        $("#pass").focus();
      }
    });
  }
  const elevateForm = $("#elevate-form");
  if (elevateForm) {
    $("#group").addEventListener("change", () => {
      renderElevateHint();
      renderBreakGlassWarning();
    });
    $("#break-glass").addEventListener("change", renderBreakGlassWarning);
    elevateForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submitElevation();
    });
  }
  const passwordForm = $("#password-form");
  if (passwordForm) {
    const check = () => {
      showRules();
      setFormStatus("password-status", "");
    };
    $("#pw1").addEventListener("input", check);
    $("#pw-show").addEventListener("change", (e) => {
      for (const id of ["pw1", "pw2"]) document.getElementById(id).type = e.target.checked ? "text" : "password";
    });
    passwordForm.addEventListener("submit", (event) => {
      event.preventDefault();
      app.session.guard(submitPassword);
    });
  }
  const denyForm = $("#deny-form");
  if (denyForm) {
    denyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submitDenial();
    });
    $("#deny-reason").addEventListener("input", () => setFormStatus("deny-status", ""));
    $("#deny-cancel").addEventListener("click", () => {
      denyForm.hidden = true;
      $("#deny-reason").value = "";
    });
  }
  const local = app.passkeys.local();
  if ($("#passkey-registration") && local && local.registration && local.registration.directory_id === app.me) {
    showRegistration(local.registration);
  }
  const qr = $("#qr");
  if (qr && app.address) {
    QRCode.toString(app.address, { type: "svg", margin: 1, errorCorrectionLevel: "M" }).then((svg) => {
      qr.innerHTML = svg;
      const el = qr.querySelector("svg");
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", t("qrLabel", { address: app.address }));
    });
  }
  main.onclick = (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.dataset.id);
    switch (button.dataset.action) {
      case "unlock-account":
        return transact("home-status", "request_unlock", []);
      case "approve":
        return app.session.guard(() => approveRequest(id));
      case "deny":
        return openDenial(id);
      case "lost-show":
        return showLostCode();
      case "cancel":
        return transact("home-status", "cancel", [id]);
      case "revoke":
        return transact("home-status", "revoke", [id]);
      case "confirm-review":
        return transact(
          "review-status",
          "confirm",
          [Number(button.dataset.campaign), Number(button.dataset.item)],
          null,
          "reviews",
        );
      case "demo-enrol":
        return demoEnrol();
      case "passkey-register":
        return registerPasskey();
      case "export-key":
        return app.session.guard(exportKey);
      case "lock":
        return app.session.lock("manual");
      case "forget":
        if (window.confirm(t("forgetConfirm"))) {
          app.keys.forget();
          localStorage.removeItem(DENIALS); // reasons typed here go with the key (docs/privacy.md)
          app.snapshot.clear();
          app.session.lock("manual");
          app.me = null;
          app.address = null;
          render();
        }
        return undefined;
      default:
        return undefined;
    }
  };
  if (app.route === "approvals" && !$("#pending-status")) {
    main.insertAdjacentHTML("beforeend", '<p id="pending-status" class="form-status" role="status"></p>');
  }
}

function submitElevation() {
  const target = $("#group").value;
  const policy = app.ledger.policies.get(target);
  const seconds = Math.round(Number($("#duration").value) * Number($("#unit").value));
  const hint = $("#duration-hint");
  hint.classList.remove("error");
  if (!Number.isFinite(seconds) || seconds <= 0) {
    hint.textContent = t("durationInvalid");
    hint.classList.add("error");
    $("#duration").setAttribute("aria-invalid", "true");
    return $("#duration").focus();
  }
  const breakGlass = $("#break-glass").checked;
  const cap = policy ? (breakGlass ? policy.breakGlassMaxDuration : policy.maxDuration) : 0;
  if (policy && cap && seconds > cap) {
    const params = { group: groupLabel(target), max: durationTextFor(cap) };
    hint.textContent = t("durationTooLong", { reason: explain("requests: bad duration", language(), params) });
    hint.classList.add("error");
    $("#duration").setAttribute("aria-invalid", "true");
    return $("#duration").focus();
  }
  $("#duration").removeAttribute("aria-invalid");
  let ticket;
  try {
    ticket = ticketRef($("#ticket").value.trim());
  } catch {
    setFormStatus("elevate-status", t("ticketInvalid"), true);
    return $("#ticket").focus();
  }
  $("#alarm-raised").hidden = true;
  const text = $("#justification").value.trim();
  // Break-glass asks for the passphrase again (session.js) before anything is sealed or sent.
  if (breakGlass) return app.session.guard(() => sealAndRequest(target, seconds, text, ticket, true));
  return sealAndRequest(target, seconds, text, ticket, false);
}

/** Seal the justification to the approvers (the hash goes on chain, the envelope to the store), then ask. */
async function sealAndRequest(target, seconds, text, ticket, breakGlass) {
  let hash = ZeroHash;
  if (text) {
    setFormStatus("elevate-status", t("sealingJustification"));
    try {
      const keys = await justificationRecipients(target);
      if (keys.length === 1) return setFormStatus("elevate-status", t("noApproverKey"), true);
      const sealed = await sealJustification(keys, app.me, target, text);
      await putJustification(app.config.payload_path, app.wallet, sealed.hash, sealed.envelope);
      hash = sealed.hash;
      app.opened.set(hash, { text });
    } catch (exc) {
      if (exc instanceof RangeError && exc.message === "justificationTooLong") {
        setFormStatus("elevate-status", t("justificationTooLong"), true);
        return $("#justification").focus();
      }
      const reason = exc instanceof OfflineError ? t("offline") : exc.message || String(exc);
      return setFormStatus("elevate-status", t("txFailed", { reason }), true);
    }
  }
  const done = (result) => {
    $("#justification").value = "";
    $("#ticket").value = "";
    $("#break-glass").checked = false;
    renderBreakGlassWarning();
    // The chain raised the alarm in the same transaction: say so, with the request it is about.
    const alarm = result.events.find((e) => e.name === "Alarm" && Number(e.args.kind) === AlarmKind.BREAK_GLASS);
    if (alarm) {
      const message = t("alarmRaised", { id: Number(alarm.args.request_id) });
      const raised = $("#alarm-raised");
      raised.textContent = message;
      raised.hidden = false;
    }
  };
  if (!breakGlass) {
    return transact("elevate-status", "request_elevation", [target, seconds, hash, ticket, false], done);
  }
  // Break-glass: the passkey signs a challenge bound to the request id this call will create.
  return transactWithPasskey(
    "elevate-status",
    async (state) => {
      if (!Passkeys.required(state)) return ["request_elevation", [target, seconds, hash, ticket, true]];
      const challenge = await app.chain.call("break_glass_challenge", [app.me, target, seconds]);
      const { encoded } = await app.passkeys.assert(challenge, state.requireUv);
      return ["request_break_glass", [target, seconds, hash, ticket, encoded]];
    },
    done,
  );
}

/** A policy's limit as the shared reasons say it (`1 h`), in the page's language. */
function durationTextFor(seconds) {
  return policyParams(
    { max_duration: seconds, break_glass_max_duration: 0, break_glass_cooldown: 0, unlock_limit: 0, unlock_window: 0 },
    "",
    false,
    language(),
  ).max;
}

/** The break-glass warning and the group's emergency rules, shown while the box is ticked. */
function renderBreakGlassWarning() {
  const box = $("#break-glass-warning");
  if (!box) return;
  const ticked = $("#break-glass").checked;
  box.hidden = !ticked;
  box.setAttribute("role", ticked ? "alert" : "none");
  const policy = app.ledger.policies.get($("#group").value);
  if (!policy) return;
  const group = groupLabel(policy.target);
  $("#break-glass-rules").textContent = policy.breakGlassMaxDuration
    ? t("breakGlassRules", {
        group,
        approvals: policy.breakGlassApprovals,
        max: durationTextFor(policy.breakGlassMaxDuration),
      })
    : t("breakGlassNone", { group });
}

function openDenial(id) {
  const form = $("#deny-form");
  form.dataset.id = String(id);
  form.hidden = false;
  $("#deny-title").textContent = t("denyTitle", { id });
  setFormStatus("deny-status", "");
  $("#deny-reason").removeAttribute("aria-invalid");
  $("#deny-reason").focus();
}

/** Deny with a reason: its salted hash on chain, its text kept on this phone (as justifications are). */
function submitDenial() {
  const form = $("#deny-form");
  const id = Number(form.dataset.id);
  const reason = $("#deny-reason").value.trim();
  if (!reason) {
    setFormStatus("deny-status", t("denyReasonMissing"), true);
    $("#deny-reason").setAttribute("aria-invalid", "true");
    return $("#deny-reason").focus();
  }
  $("#deny-reason").removeAttribute("aria-invalid");
  return app.session.guard(() =>
    transact("deny-status", "deny", [id, saltedHash(DENIALS, reason)], () => {
      $("#deny-reason").value = "";
    }),
  );
}

async function showLostCode() {
  const button = $("#lost-show");
  button.disabled = true;
  try {
    const code = await lostDeviceCode(app.wallet, app.config.chain_id, app.config.contract);
    $("#lost-code").value = code;
    $("#lost-download").href = URL.createObjectURL(new Blob([`${code}\n`], { type: "text/plain" }));
    const svg = await QRCode.toString(code, { type: "svg", margin: 1, errorCorrectionLevel: "M" });
    $("#lost-qr").innerHTML = svg;
    const el = $("#lost-qr").querySelector("svg");
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", t("lostQr"));
    $("#lost-box").hidden = false;
    setFormStatus("lost-status", t("lostShown"));
  } catch (exc) {
    setFormStatus("lost-status", failureText(exc), true);
  } finally {
    button.disabled = false;
  }
}

function accountName() {
  const entry = (app.config.people || {})[app.me.toLowerCase()];
  return entry ? entry.account : null;
}

function showRules() {
  const rules = localRules($("#pw1").value, accountName());
  for (const [name, ok] of Object.entries(rules)) {
    document.getElementById(`rule-${name}`).dataset.ok = String(ok);
  }
  $("#rule-breached").dataset.ok = "unknown";
  checkStrength();
  return rules;
}

let strengthRound = 0;

/** The zxcvbn rule, as the oracle will judge it; a newer keystroke's answer wins over an older one's. */
async function checkStrength() {
  const password = $("#pw1").value;
  const round = ++strengthRound;
  const el = $("#rule-strength");
  el.dataset.ok = "unknown";
  delete el.dataset.score;
  const score = password ? await strengthScore(password, accountName()) : 0;
  if (round === strengthRound && el.isConnected) {
    el.dataset.ok = String(score >= MIN_SCORE);
    el.dataset.score = String(score);
  }
  return score;
}

async function submitPassword() {
  const pw1 = $("#pw1").value;
  const pw2 = $("#pw2").value;
  const rules = showRules();
  if (!Object.values(rules).every(Boolean)) {
    setFormStatus("password-status", t("passwordWeak"), true);
    return $("#pw1").focus();
  }
  if (pw1 !== pw2) {
    setFormStatus("password-status", t("passwordMismatch"), true);
    return $("#pw2").focus();
  }
  try {
    if (await isBreached(app.config.breached_path, pw1)) {
      $("#rule-breached").dataset.ok = "false";
      setFormStatus("password-status", t("passwordBreached"), true);
      return $("#pw1").focus();
    }
    $("#rule-breached").dataset.ok = "true";
    const score = await checkStrength();
    if (score < MIN_SCORE) {
      setFormStatus("password-status", t("passwordGuessable", { score, min: MIN_SCORE }), true);
      return $("#pw1").focus();
    }
    const oracleKey = await app.chain.call("oracle_enc_pubkey", [app.principal.domain]);
    if (oracleKey === ZeroHash) return setFormStatus("password-status", t("noOracle"), true);
    setFormStatus("password-status", t("sealing"));
    const sealed = await sealPassword(oracleKey, app.me, pw1);
    const digest = await putPayload(app.config.payload_path, app.wallet, sealed);
    return transact("password-status", "request_password_reset", [digest], () => {
      $("#pw1").value = "";
      $("#pw2").value = "";
    });
  } catch (exc) {
    return setFormStatus("password-status", failureText(exc), true);
  }
}

// --- live updates -----------------------------------------------------------------------------------------

let polling = null;

/** One round: new logs since the last block seen, enrolment, receipts' times; marks online/offline. */
async function poll() {
  if (polling) return polling;
  polling = (async () => {
    try {
      await pollOnce();
      setOnline(true);
    } catch (exc) {
      if (exc instanceof OfflineError) {
        setOnline(false);
        if (app.snapshot.restore(app)) render();
      } else console.error(exc);
    } finally {
      polling = null;
    }
  })();
  return polling;
}

async function pollOnce() {
  const chain = app.chain;
  const head = await chain.blockNumber();
  app.snapshot.reset(app); // the node answers: the cached state gives way to the chain's
  if (head > app.scanned) {
    for (let from = app.scanned + 1; from <= head; from += 2000) {
      const to = Math.min(head, from + 1999);
      for (const event of await chain.logs(from, to)) {
        if (app.alarms.apply(event)) continue;
        app.ledger.apply(event);
        app.snapshot.record(event);
      }
      app.scanned = to;
    }
  }
  const address = app.address || app.keys.address();
  if (address && (!app.me || app.principalSeen !== app.ledger.principalEvents)) {
    const id = await chain.call("principal_of", [address]);
    app.me = id === ZeroHash ? null : id;
    if (app.me) {
      const [, domain, status] = await chain.call("principal", [app.me]);
      app.principal = { domain, status: Number(status) };
      [app.balance, app.gasPrice] = await Promise.all([chain.balance(address), chain.gasPrice()]);
    }
    app.principalSeen = app.ledger.principalEvents;
  }
  // PamFactors' state only where it is shown (its events are not in the app's log scan).
  if (app.me && app.gate === "app" && app.route === "device") app.passkey = await app.passkeys.onChain(app.me);
  publishDeviceKey();
  if (readsAlarms(app.config, app.ledger, app.me)) {
    for (const alarm of app.alarms.list) {
      if (alarm.time !== null) continue;
      if (!app.blockTimes.has(alarm.block)) app.blockTimes.set(alarm.block, await chain.blockTime(alarm.block));
      alarm.time = app.blockTimes.get(alarm.block);
    }
  }
  for (const r of app.ledger.requests.values()) {
    for (const receipt of r.receipts) {
      if (receipt.time === null) {
        if (!app.blockTimes.has(receipt.block)) app.blockTimes.set(receipt.block, await chain.blockTime(receipt.block));
        receipt.time = app.blockTimes.get(receipt.block);
      }
    }
  }
  announceChanges();
  app.loaded = true;
  app.snapshot.save(app);
  render();
}

/** Speak what changed since the last round (not on first load): my statuses, receipts, new requests to approve. */
function announceChanges() {
  if (!app.me) return;
  const t0 = now();
  const messages = [];
  for (const r of app.ledger.mine(app.me)) {
    const status = Ledger.status(r, t0);
    const key = `${status}:${r.receipts.length}`;
    const before = app.announced.get(r.id);
    app.announced.set(r.id, key);
    if (!app.loaded || before === key) continue;
    if (r.receipts.length && (!before || !before.endsWith(`:${r.receipts.length}`))) {
      messages.push(t("announceReceipt", { id: r.id, receipt: receiptText(r.receipts[r.receipts.length - 1]) }));
    } else {
      messages.push(t("announceStatus", { id: r.id, kind: t(`kind${r.kind}`), status: t(`status${status}`) }));
    }
  }
  for (const r of app.ledger.waitingFor(app.me, t0)) {
    const key = `waiting:${r.id}`;
    if (app.announced.has(key)) continue;
    app.announced.set(key, true);
    if (app.loaded) messages.push(t("announcePending", { id: r.id }));
  }
  for (const item of app.ledger.toReview(app.me, t0)) {
    const key = `review:${item.campaignId}`;
    if (app.announced.has(key)) continue;
    app.announced.set(key, true);
    if (app.loaded) messages.push(t("announceReview", { campaign: item.campaignId }));
  }
  if (readsAlarms(app.config, app.ledger, app.me)) {
    app.alarms.list.forEach((alarm, index) => {
      const key = `alarm:${index}`;
      if (app.announced.has(key)) return;
      app.announced.set(key, true);
      if (app.loaded) messages.push(t("announceAlarm", { kind: t(`alarmKind${alarm.kind}`) }));
    });
  }
  if (messages.length) announce(messages.join(" "));
}

function setOnline(online) {
  if (online === app.online) return;
  app.online = online;
  const banner = $("#offline");
  banner.hidden = online;
  banner.textContent = online ? "" : app.snapshot.banner();
  document.body.dataset.online = String(online);
  refuseSending(online);
  if (online) announce(t("online"));
}

function loop() {
  poll().finally(() => setTimeout(loop, app.config.poll_ms || 1000));
}

// --- start ------------------------------------------------------------------------------------------------

async function start() {
  const response = await fetch("config.json", { cache: "no-store" });
  app.config = await response.json();
  app.chain = new Chain(app.config);
  app.keys = new KeyStore(app.config);
  app.passkeys = new Passkeys(app.chain, app.config);
  app.snapshot = new Snapshot(app.config);
  app.session = new Session(app.config, {
    onLock: (reason) => {
      app.wallet = null; // the only reference to the decrypted key
      app.opened.clear(); // justification texts opened with it
      render();
      if (reason === "manual") return;
      const message = t(reason === "hidden" ? "lockedHidden" : "lockedIdle");
      setFormStatus("unlock-status", message);
      announce(message);
    },
    reopen: async (passphraseBytes) => {
      app.wallet = await app.keys.unlock(passphraseBytes);
    },
  });
  registerServiceWorker();
  app.scanned = Math.max(0, (app.config.deployment_block || 0) - 1);
  setLanguage(language());
  document.body.dataset.online = "true";
  renderShell();
  render(true);
  window.addEventListener("hashchange", () => render());
  setInterval(() => {
    tickCountdowns();
    // Time alone ends grants and expires requests: refresh the lists when a status flips by the clock.
    if (app.gate === "app") renderDynamic();
  }, 1000);
  loop();
}

start();

export { Action, PASSWORD_RESET_TARGET };
