// The Device screen: this phone's address and enrolment, its passkey, the key's export and the lost-device code.

import { esc } from "../html.js";
import { t } from "../i18n.js";
import { Passkeys } from "../passkey.js";
import { $, app } from "../app.js";
import { lostSection } from "./lost.js";

export function deviceScreen() {
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

export function passkeyStateText() {
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
export function passkeyIsMine() {
  const state = app.passkey;
  const local = app.passkeys.local();
  return Boolean(state && local && Passkeys.required(state) && BigInt(local.x) === state.x && BigInt(local.y) === state.y);
}

/** The registration for the council, as text to copy and as a file to download. */
export function showRegistration(registration) {
  const text = JSON.stringify(registration, null, 2);
  $("#passkey-registration").value = text;
  $("#passkey-download").href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  $("#passkey-registration-box").hidden = false;
}
