// What the user sends: every transaction signed in this browser, with the passkey when the chain asks for one,
// and the refusals explained in the user's terms.

import { ZeroHash } from "ethers";
import QRCode from "qrcode";
import { OfflineError, RpcError, revertReason, ticketRef } from "./chain.js";
import { language, t } from "./i18n.js";
import { deviceKeyPair, sealJustification, verifyKey } from "./justification.js";
import { UNLOCK_TARGET } from "./ledger.js";
import { PasskeyError, Passkeys } from "./passkey.js";
import { MIN_SCORE, isBreached } from "./policy.js";
import { explain, policyParams } from "./reasons.js";
import { AlarmKind } from "./screens/alarms.js";
import { showRegistration } from "./screens/device.js";
import { durationTextFor, renderBreakGlassWarning } from "./screens/elevate.js";
import { lostDeviceCode } from "./screens/lost.js";
import { checkStrength, showRules } from "./screens/password.js";
import { deviceKey, putJustification, putPayload, sealPassword } from "./secrets.js";
import { DENIALS, $, announce, app, groupLabel, saltedHash, setFormStatus, short } from "./app.js";
import { renderDynamic } from "./dynamic.js";
import { poll } from "./live.js";

const PRINCIPAL_ACTIVE = 1;

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
export async function transactWithPasskey(statusId, prepare, onDone) {
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

export function approveRequest(id) {
  return transactWithPasskey("pending-status", async (state) => {
    if (!Passkeys.required(state)) return ["approve", [id]];
    const challenge = await app.chain.call("approval_challenge", [id, app.me]);
    const { encoded } = await app.passkeys.assert(challenge, state.requireUv);
    return ["approve_with_assertion", [id, encoded]];
  });
}

export async function registerPasskey() {
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
export async function exportKey() {
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

export async function transact(statusId, fn, args, onDone, which = "pam") {
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

export function submitElevation() {
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

/** Deny with a reason: its salted hash on chain, its text kept on this phone (as justifications are). */
export function submitDenial() {
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

export async function showLostCode() {
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

export async function submitPassword() {
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

export async function demoEnrol() {
  setFormStatus("demo-status", t("signing"));
  const response = await fetch("api/demo-enrol", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ address: app.address }),
  });
  if (!response.ok) return setFormStatus("demo-status", t("txFailed", { reason: await response.text() }), true);
  return poll();
}
