// The password form: the local rules, zxcvbn's score and the breach check, shown as the user types.

import { esc } from "../html.js";
import { t } from "../i18n.js";
import { MIN_LENGTH, MIN_SCORE, localRules, strengthScore } from "../policy.js";
import { $, app } from "../app.js";

export function passwordScreen() {
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

function accountName() {
  const entry = (app.config.people || {})[app.me.toLowerCase()];
  return entry ? entry.account : null;
}

export function showRules() {
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
export async function checkStrength() {
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
