// My own requests: the home screen's live list, the history, and each request's status, receipts and denial.

import { ZeroHash } from "ethers";
import { esc } from "../html.js";
import { formatDuration, formatTime, t } from "../i18n.js";
import { Kind, Ledger, Status } from "../ledger.js";
import { DENIALS, app, dcLabel, groupLabel, now, personLabel, savedTexts } from "../app.js";

export function homeScreen() {
  return `<h2 tabindex="-1">${esc(t("homeTitle"))}</h2>
        <p>${esc(t("homeIntro"))}</p>
        <button type="button" class="primary big" id="unlock-account" data-action="unlock-account">${esc(t("unlockAccount"))}</button>
        <p id="home-status" class="form-status" role="status"></p>
        <h3>${esc(t("myRequests"))}</h3>
        <div id="mine-list"></div>`;
}

export function historyScreen() {
  return `<h2 tabindex="-1">${esc(t("historyTitle"))}</h2><div id="history-list"></div>`;
}

export function receiptText(receipt) {
  const vars = { dc: dcLabel(receipt.dc), time: receipt.time ? formatTime(receipt.time) : "…" };
  return receipt.outcome === 1 ? t(`receiptApplied${receipt.action}`, vars) : t("receiptFailed", vars);
}

function requestTitle(r) {
  const what = r.kind === Kind.ELEVATE ? `${t("kind2")} · ${groupLabel(r.target)}` : t(`kind${r.kind}`);
  return `${t("requestN", { id: r.id })} · ${what}`;
}

export function requestItem(r, { actions = true } = {}) {
  const status = Ledger.status(r, now());
  let timer = "";
  if (status === Status.ACTIVE) {
    timer = `<p class="countdown" data-until="${r.expiry}" data-label="endsIn"></p>`;
  } else if (status === Status.PENDING) {
    timer = `<p class="countdown" data-until="${r.deadline}" data-label="expiresIn"></p>`;
  }
  const receipts = r.receipts
    .map((rc) => `<li class="receipt ${rc.outcome === 1 ? "ok" : "bad"}">${esc(receiptText(rc))}</li>`)
    .join("");
  let buttons = "";
  if (actions && status === Status.PENDING) {
    buttons = `<button type="button" id="cancel-${r.id}" data-action="cancel" data-id="${r.id}" aria-label="${esc(t("cancelLabel", { id: r.id }))}">${esc(t("cancel"))}</button>`;
  } else if (actions && status === Status.ACTIVE) {
    buttons = `<button type="button" id="revoke-${r.id}" data-action="revoke" data-id="${r.id}" aria-label="${esc(t("revokeLabel", { id: r.id }))}">${esc(t("revoke"))}</button>`;
  }
  let detail =
    r.kind === Kind.ELEVATE
      ? `<p class="meta">${esc(formatDuration(r.duration))} · ${esc(t("approvalsCount"))} ${r.approvals}/${r.approvalsRequired}</p>`
      : "";
  if (r.breakGlass) detail += `<p class="tag alarm-tag">${esc(t("breakGlassTag"))}</p>`;
  if (status === Status.DENIED && r.deniedBy) detail += denialText(r);
  return `<li class="request" id="request-${r.id}" data-status="${status}">
      <h4>${esc(requestTitle(r))}</h4>
      <p class="status status-${status}">${esc(t(`status${status}`))}</p>
      ${detail}${timer}
      ${receipts ? `<ul class="receipts">${receipts}</ul>` : ""}
      ${buttons}
    </li>`;
}

/** Who denied, and the reason when this phone sent it; the chain holds only its salted hash. */
function denialText(r) {
  const lines = [t("deniedBy", { who: r.deniedBy === app.me ? t("reviewYou") : personLabel(r.deniedBy) })];
  if (r.denyReasonHash && r.denyReasonHash !== ZeroHash) {
    const mine = savedTexts(DENIALS)[r.denyReasonHash];
    lines.push(mine ? t("deniedReasonMine", { reason: mine }) : t("deniedReasonOffChain"));
  }
  return `<p class="denial">${lines.map(esc).join(" ")}</p>`;
}

/** A request that finished in the last minute stays on the home screen, so its receipt can be read there. */
export function recentlyFinal(r, t0) {
  const last = r.receipts.length ? r.receipts[r.receipts.length - 1].time : null;
  return last !== null && t0 - last < 60;
}
