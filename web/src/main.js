// The phone app's start: configuration, the chain, the key store, the session, then the screens and live updates.
// Every write is signed in this browser.

import { Chain } from "./chain.js";
import { addStrings, language, setLanguage, t } from "./i18n.js";
import { Action, PASSWORD_RESET_TARGET } from "./ledger.js";
import { Snapshot, registerServiceWorker } from "./offline.js";
import { Passkeys } from "./passkey.js";
import { SCREEN_STRINGS } from "./screens/strings.js";
import { KeyStore } from "./secrets.js";
import { Session } from "./session.js";
import { announce, app, setFormStatus } from "./app.js";
import { renderDynamic, tickCountdowns } from "./dynamic.js";
import { startLive } from "./live.js";
import { render, renderShell } from "./shell.js";
import "./style.css";

addStrings(SCREEN_STRINGS);

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
  startLive(render);
}

start();

export { Action, PASSWORD_RESET_TARGET };
