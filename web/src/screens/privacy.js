// Terms of use and privacy, summarised from docs/privacy.md; reachable from every screen's footer.

import { esc } from "../html.js";
import { t } from "../i18n.js";

export function privacyScreen(back) {
  const section = (title, text) => `<h3>${esc(t(title))}</h3><p>${esc(t(text))}</p>`;
  return `<h2 tabindex="-1">${esc(t("privacyTitle"))}</h2>
    <p>${esc(t("privacyUse"))}</p>
    ${section("privacyChainTitle", "privacyChain")}
    ${section("privacyOffTitle", "privacyOff")}
    ${section("privacyEraseTitle", "privacyErase")}
    <p class="hint">${esc(t("privacyMore"))}</p>
    <p><a href="${esc(back)}" id="privacy-back">${esc(t("privacyBack"))}</a></p>`;
}
