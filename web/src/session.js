// Sessions: the decrypted device key is dropped after an idle time, sooner once the tab is hidden, and
// sensitive actions ask for the passphrase again when the last unlock is older than the recent-auth window.

import { t } from "./i18n.js";

// The server's /config.json "session" block overrides these (pamchain web --session-idle ...).
export const DEFAULTS = { idle_s: 300, hidden_s: 60, recent_auth_s: 120 };
// What counts as the person using the app (scrolling and typing included, not mere pointer moves).
const ACTIVITY = ["pointerdown", "keydown", "touchstart", "wheel", "input"];

export class Session {
  /**
   * `onLock(reason)` must drop every reference to the decrypted key (the session holds none itself);
   * `reopen(passphraseBytes)` decrypts the key again for a sensitive action and must not keep the bytes,
   * which are zeroed here once it returns.
   */
  constructor(config, { onLock, reopen }) {
    const s = { ...DEFAULTS, ...(config.session || {}) };
    this.idleMs = Number(s.idle_s) * 1000;
    this.hiddenMs = Number(s.hidden_s) * 1000;
    this.recentMs = Number(s.recent_auth_s) * 1000;
    this.onLock = onLock;
    this.reopen = reopen;
    this.open = false;
    this.unlockedAt = 0;
    this.lastActive = 0;
    this.hiddenAt = null;
    this.timer = null;
    for (const type of ACTIVITY) {
      document.addEventListener(type, () => this.touch(), { capture: true, passive: true });
    }
    document.addEventListener("visibilitychange", () => this.visibility());
  }

  /** The key was just decrypted with its passphrase: a fresh session, and a fresh "recent auth". */
  start() {
    this.open = true;
    this.unlockedAt = Date.now();
    this.lastActive = this.unlockedAt;
    this.hiddenAt = document.hidden ? this.unlockedAt : null;
    this.arm();
  }

  /** Forget the key now ("idle", "hidden" or "manual"). */
  lock(reason = "manual") {
    clearTimeout(this.timer);
    this.timer = null;
    const wasOpen = this.open;
    this.open = false;
    this.unlockedAt = 0;
    closeDialog(false);
    if (wasOpen || reason === "manual") this.onLock(reason);
  }

  /** Whether the passphrase was typed within the recent-auth window. */
  recent() {
    return this.open && Date.now() - this.unlockedAt < this.recentMs;
  }

  /** Run `fn` after making sure the passphrase is recent (asking it again if not); false when refused. */
  async guard(fn) {
    if (!this.open) return false;
    if (!this.recent() && !(await this.confirm())) return false;
    await fn();
    return true;
  }

  // --- timers --------------------------------------------------------------------------------------------

  deadline() {
    let at = this.lastActive + this.idleMs;
    if (this.hiddenAt !== null) at = Math.min(at, this.hiddenAt + this.hiddenMs);
    return at;
  }

  reason() {
    return this.hiddenAt !== null && this.hiddenAt + this.hiddenMs <= this.lastActive + this.idleMs ? "hidden" : "idle";
  }

  /** Timers are throttled in background tabs: every wake-up checks the deadline against the clock too. */
  check() {
    if (!this.open) return true;
    if (Date.now() >= this.deadline()) {
      this.lock(this.reason());
      return true;
    }
    return false;
  }

  arm() {
    clearTimeout(this.timer);
    if (!this.open) return;
    this.timer = setTimeout(() => {
      if (!this.check()) this.arm();
    }, Math.max(0, this.deadline() - Date.now()) + 20);
  }

  touch() {
    if (this.check()) return;
    this.lastActive = Date.now();
    this.arm();
  }

  visibility() {
    if (this.check()) return;
    this.hiddenAt = document.hidden ? Date.now() : null;
    if (!document.hidden) this.lastActive = Date.now();
    this.arm();
  }

  // --- re-authentication ---------------------------------------------------------------------------------

  confirm() {
    return new Promise((resolve) => {
      const dialog = openDialog(resolve);
      const form = dialog.querySelector("form");
      const input = dialog.querySelector("#reauth-pass");
      const status = dialog.querySelector("#reauth-status");
      form.onsubmit = async (event) => {
        event.preventDefault();
        const bytes = new TextEncoder().encode(input.value.normalize("NFKC"));
        input.value = "";
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        status.textContent = t("unlockingKey");
        status.classList.remove("error");
        try {
          await this.reopen(bytes);
          this.start();
          closeDialog(true);
        } catch {
          status.textContent = t("wrongPassphrase");
          status.classList.add("error");
          input.setAttribute("aria-invalid", "true");
          input.focus();
        } finally {
          bytes.fill(0);
          button.disabled = false;
        }
      };
    });
  }
}

// One dialog for the whole page, outside #app (which is redrawn on every language change).
let pending = null;

function openDialog(resolve) {
  closeDialog(false);
  pending = resolve;
  let dialog = document.getElementById("reauth");
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = "reauth";
    document.body.append(dialog);
    dialog.addEventListener("cancel", () => closeDialog(false));
  }
  dialog.setAttribute("aria-labelledby", "reauth-title");
  dialog.innerHTML = `<form id="reauth-form" method="dialog" novalidate>
      <h2 id="reauth-title">${escape(t("reauthTitle"))}</h2>
      <p id="reauth-intro">${escape(t("reauthIntro"))}</p>
      <input type="text" autocomplete="username" value="pamchain-device" hidden aria-hidden="true">
      <label for="reauth-pass">${escape(t("passphrase"))}</label>
      <input id="reauth-pass" type="password" autocomplete="current-password" required aria-describedby="reauth-intro reauth-status">
      <div class="row">
        <button type="submit" class="primary">${escape(t("reauthConfirm"))}</button>
        <button type="button" id="reauth-cancel">${escape(t("cancel"))}</button>
      </div>
      <p id="reauth-status" class="form-status" role="alert"></p>
    </form>`;
  dialog.querySelector("#reauth-cancel").onclick = () => closeDialog(false);
  dialog.showModal();
  dialog.querySelector("#reauth-pass").focus();
  return dialog;
}

function closeDialog(ok) {
  const dialog = document.getElementById("reauth");
  if (dialog) {
    const input = dialog.querySelector("#reauth-pass");
    if (input) input.value = "";
    if (dialog.open) dialog.close();
  }
  const resolve = pending;
  pending = null;
  if (resolve) resolve(ok);
}

function escape(value) {
  return String(value).replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch],
  );
}
