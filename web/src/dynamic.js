// The parts of a screen that change without a route change: lists, countdowns, enrolment and passkey state.

import { esc } from "./html.js";
import { formatDuration, formatTime, t } from "./i18n.js";
import { ItemStatus, Ledger, PASSWORD_RESET_TARGET, UNLOCK_TARGET, isFinal } from "./ledger.js";
import { refuseSending } from "./offline.js";
import { alarmsHtml } from "./screens/alarms.js";
import { pendingItem } from "./screens/approvals.js";
import { passkeyIsMine, passkeyStateText } from "./screens/device.js";
import { renderElevateHint } from "./screens/elevate.js";
import { recentlyFinal, requestItem } from "./screens/requests.js";
import { reviewItem, reviewedItem } from "./screens/reviews.js";
import { $, app, dcLabel, groupLabel, now, personLabel, short } from "./app.js";

function update(id, html) {
  const el = document.getElementById(id);
  if (!el || app.rendered.get(id) === html) return;
  const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : null;
  el.innerHTML = html;
  app.rendered.set(id, html);
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

export function renderDynamic() {
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
      waiting.length ? `<ul class="requests">${waiting.map((r) => pendingItem(r, renderDynamic)).join("")}</ul>` : `<p>${esc(t("noPending"))}</p>`,
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

export function tickCountdowns() {
  const t0 = Date.now() / 1000;
  for (const el of document.querySelectorAll(".countdown[data-until]")) {
    const left = Number(el.dataset.until) - t0;
    const time = formatDuration(Math.max(0, Math.ceil(left)));
    el.textContent = el.dataset.label ? t(el.dataset.label, { time }) : time;
  }
}
