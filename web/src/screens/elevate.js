// The elevation form: group, duration, justification, ticket, and the break-glass warning with the group's rules.

import { esc } from "../html.js";
import { formatDuration, language, t } from "../i18n.js";
import { policyParams } from "../reasons.js";
import { $, app, groupLabel } from "../app.js";

export function elevateScreen() {
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

export function renderElevateHint() {
  const hint = $("#duration-hint");
  const select = $("#group");
  if (!hint || !select) return;
  const policy = app.ledger.policies.get(select.value);
  const text = policy && policy.maxDuration ? t("maxDuration", { max: formatDuration(policy.maxDuration) }) : "";
  if (hint.textContent !== text && !hint.classList.contains("error")) hint.textContent = text;
}

/** A policy's limit as the shared reasons say it (`1 h`), in the page's language. */
export function durationTextFor(seconds) {
  return policyParams(
    { max_duration: seconds, break_glass_max_duration: 0, break_glass_cooldown: 0, unlock_limit: 0, unlock_window: 0 },
    "",
    false,
    language(),
  ).max;
}

/** The break-glass warning and the group's emergency rules, shown while the box is ticked. */
export function renderBreakGlassWarning() {
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
