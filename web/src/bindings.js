// The screen's forms and buttons bound to their actions, once per screen drawn.

import QRCode from "qrcode";
import { t } from "./i18n.js";
import { WrongPassphrase } from "./secrets.js";
import {
  approveRequest,
  demoEnrol,
  exportKey,
  registerPasskey,
  showLostCode,
  submitDenial,
  submitElevation,
  submitPassword,
  transact,
} from "./actions.js";
import { DENIALS, $, app, setFormStatus } from "./app.js";
import { poll } from "./live.js";
import { openDenial } from "./screens/approvals.js";
import { showRegistration } from "./screens/device.js";
import { renderBreakGlassWarning, renderElevateHint } from "./screens/elevate.js";
import { showRules } from "./screens/password.js";

/** Bind the screen just drawn; `render` redraws it once a key is created, unlocked or forgotten (the shell that
 * draws screens sits above this module, so it hands itself in). */
export function bindScreen(render) {
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
