// The approver's list: pending requests with their opened justifications, and the denial form.

import { ZeroHash } from "ethers";
import { ticketText } from "../chain.js";
import { esc } from "../html.js";
import { formatDuration, t } from "../i18n.js";
import { Unreadable, openJustification } from "../justification.js";
import { Kind } from "../ledger.js";
import { StoreError, getJustification } from "../secrets.js";
import { $, app, groupLabel, personLabel, setFormStatus } from "../app.js";

export function approvalsScreen() {
  return `<h2 tabindex="-1">${esc(t("approvalsTitle"))}</h2><div id="pending-list"></div>${denyForm()}`;
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

/** The "why" of a request for its approver: the text opened on this phone, or why it cannot be read. */
function justificationCell(r, onOpened) {
  const hash = r.justificationHash;
  if (hash === ZeroHash) return `<dd class="justification" data-state="none">${esc(t("noJustification"))}</dd>`;
  const found = app.opened.get(hash);
  if (!found) openLater(r, onOpened);
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
async function openLater(r, onOpened) {
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
  onOpened();
}

/** A request waiting for my approval; `onOpened` redraws the list once its justification is opened (the lists
 * are drawn above this module, in dynamic.js). */
export function pendingItem(r, onOpened) {
  const policy = app.ledger.policies.get(r.target);
  const what = r.kind === Kind.ELEVATE ? `${t("kind2")} · ${groupLabel(r.target)}` : t(`kind${r.kind}`);
  const ticket = ticketText(r.ticket);
  return `<li class="request" id="pending-${r.id}">
      <h4>${esc(t("requestN", { id: r.id }))}</h4>
      <dl>
        <dt>${esc(t("who"))}</dt><dd>${esc(personLabel(r.subject))}</dd>
        <dt>${esc(t("what"))}</dt><dd>${esc(what)}</dd>
        <dt>${esc(t("why"))}</dt>${justificationCell(r, onOpened)}
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

export function openDenial(id) {
  const form = $("#deny-form");
  form.dataset.id = String(id);
  form.hidden = false;
  $("#deny-title").textContent = t("denyTitle", { id });
  setFormStatus("deny-status", "");
  $("#deny-reason").removeAttribute("aria-invalid");
  $("#deny-reason").focus();
}
