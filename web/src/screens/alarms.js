// The security officers' view: every Alarm event of PamChain and PamReviews, newest first.

import { ZeroHash } from "ethers";
import { esc } from "../html.js";
import { t } from "../i18n.js";

export const AlarmKind = { BREAK_GLASS: 1, DRIFT: 2, UNLOCK_LIMIT: 3, REMOVAL_LATE: 4, LEAVER: 5, REVIEW_LAPSED: 6 };
// Who the labels file marks as reading the alarms (`role = "security"` or `"auditor"`), beside the approvers.
const READERS = new Set(["security", "auditor"]);

export class Alarms {
  constructor() {
    this.list = []; // {kind, domain, requestId, target, subject, detail, block, time}
  }

  /** Keep `event` if it is an Alarm (from either contract); returns whether it was. */
  apply(event) {
    if (event.name !== "Alarm") return false;
    const a = event.args;
    this.list.push({
      kind: Number(a.kind),
      domain: a.domain,
      requestId: Number(a.request_id),
      target: a.target,
      subject: a.subject,
      detail: a.detail,
      block: event.block,
      time: null,
    });
    return true;
  }

  newestFirst() {
    return [...this.list].sort((x, y) => y.block - x.block);
  }
}

/** Whether `me` sees the Alarms screen: an approver of some policy, or marked security/auditor in the labels. */
export function readsAlarms(config, ledger, me) {
  if (!me) return false;
  const entry = (config.people || {})[me.toLowerCase()];
  return ledger.isApprover(me) || Boolean(entry && READERS.has(String(entry.role || "").toLowerCase()));
}

export function alarmsScreen() {
  return `<h2 tabindex="-1">${esc(t("alarmsTitle"))}</h2>
    <p>${esc(t("alarmsIntro"))}</p>
    <div id="alarm-list"></div>`;
}

/** One alarm in words; `labels` gives person, group and DC names, `when` a block time as text. */
function alarmItem(alarm, index, labels) {
  const rows = [];
  const row = (term, value) => rows.push(`<dt>${esc(term)}</dt><dd>${esc(value)}</dd>`);
  if (alarm.kind === AlarmKind.DRIFT) {
    row(t("alarmWho"), t("alarmMember", { hash: labels.short(alarm.subject) }));
  } else if (alarm.subject !== ZeroHash) {
    row(t("alarmWho"), labels.person(alarm.subject));
  }
  if (alarm.kind === AlarmKind.LEAVER) {
    row(t("alarmWhat"), t(`leaverReason${Number(BigInt(alarm.target))}`));
  } else if (alarm.kind === AlarmKind.REVIEW_LAPSED) {
    row(t("alarmWhat"), t("alarmReview", { id: alarm.requestId, item: Number(BigInt(alarm.detail)) }));
  } else {
    const what = [alarm.requestId ? t("alarmRequest", { id: alarm.requestId }) : "", labels.target(alarm.target)];
    row(t("alarmWhat"), what.filter(Boolean).join(" · "));
  }
  if ([AlarmKind.DRIFT, AlarmKind.REMOVAL_LATE, AlarmKind.LEAVER].includes(alarm.kind)) {
    row(t("alarmWhere"), labels.dc(alarm.detail));
  }
  row(t("alarmWhen"), alarm.time ? labels.time(alarm.time) : "…");
  return `<li class="request alarm alarm-${alarm.kind}" id="alarm-${index}" data-kind="${alarm.kind}">
      <h4>${esc(t(`alarmKind${alarm.kind}`))}</h4>
      <dl>${rows.join("")}</dl>
    </li>`;
}

export function alarmsHtml(alarms, labels) {
  const list = alarms.newestFirst();
  if (!list.length) return `<p>${esc(t("noAlarms"))}</p>`;
  return `<ul class="requests">${list.map((a) => alarmItem(a, alarms.list.indexOf(a), labels)).join("")}</ul>`;
}
