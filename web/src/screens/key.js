// The key gate: create this device's key under a passphrase, or unlock the one this browser keeps.

import { esc } from "../html.js";
import { t } from "../i18n.js";
import { app } from "../app.js";

export function createScreen() {
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
}

export function unlockScreen() {
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
}
