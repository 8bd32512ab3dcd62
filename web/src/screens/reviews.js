// Access reviews: the items waiting for my confirmation and the ones already settled.

import { ZeroHash } from "ethers";
import { ticketText } from "../chain.js";
import { esc } from "../html.js";
import { t } from "../i18n.js";
import { Reviewer } from "../ledger.js";
import { app, groupLabel, personLabel } from "../app.js";

export function reviewsScreen() {
  return `<h2 tabindex="-1">${esc(t("reviewsTitle"))}</h2>
        <p>${esc(t("reviewsIntro"))}</p>
        <div id="review-list"></div>
        <p id="review-status" class="form-status" role="status"></p>
        <h3>${esc(t("reviewsDone"))}</h3>
        <div id="reviewed-list"></div>`;
}

function campaignLabel(campaign) {
  const text = ticketText(campaign.label);
  return text ? t("campaignNamed", { id: campaign.id, label: text }) : t("campaignN", { id: campaign.id });
}

function reviewWhat(item) {
  if (item.target === ZeroHash) return t("reviewAccount");
  return t("reviewRequester", { group: groupLabel(item.target) });
}

export function reviewItem(item) {
  const campaign = app.ledger.campaigns.get(item.campaignId);
  const self = campaign.reviewer === Reviewer.SELF;
  const who = self ? t("reviewYou") : personLabel(item.principal);
  const id = `${item.campaignId}-${item.itemId}`;
  return `<li class="request" id="review-${id}">
      <h4>${esc(campaignLabel(campaign))}</h4>
      <dl>
        <dt>${esc(t("who"))}</dt><dd>${esc(who)}</dd>
        <dt>${esc(t("what"))}</dt><dd>${esc(reviewWhat(item))}</dd>
        <dt>${esc(t("ifNotConfirmed"))}</dt><dd>${esc(t(`onLapse${campaign.onLapse}`))}</dd>
        <dt>${esc(t("deadline"))}</dt><dd class="countdown" data-until="${campaign.deadline}"></dd>
      </dl>
      <button type="button" class="primary" id="confirm-review-${id}" data-action="confirm-review" data-campaign="${item.campaignId}" data-item="${item.itemId}" aria-label="${esc(t("confirmReviewLabel", { item: item.itemId, campaign: item.campaignId }))}">${esc(t(self ? "confirmOwn" : "confirmOther"))}</button>
    </li>`;
}

export function reviewedItem(item) {
  const campaign = app.ledger.campaigns.get(item.campaignId);
  const who = item.principal === app.me ? t("reviewYou") : personLabel(item.principal);
  return `<li class="request" id="reviewed-${item.campaignId}-${item.itemId}">
      <h4>${esc(campaignLabel(campaign))}</h4>
      <p class="meta">${esc(who)} · ${esc(reviewWhat(item))}</p>
      <p class="status">${esc(t(`itemStatus${item.status}`))}</p>
    </li>`;
}
