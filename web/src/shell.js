// The page's frame and routing: header, navigation, the key gate, and which screen is drawn.

import { esc } from "./html.js";
import { KNOWN, LANGUAGES, language, setLanguage, t } from "./i18n.js";
import { alarmsScreen, readsAlarms } from "./screens/alarms.js";
import { approvalsScreen } from "./screens/approvals.js";
import { deviceScreen } from "./screens/device.js";
import { elevateScreen } from "./screens/elevate.js";
import { createScreen, unlockScreen } from "./screens/key.js";
import { passwordScreen } from "./screens/password.js";
import { privacyScreen } from "./screens/privacy.js";
import { historyScreen, homeScreen } from "./screens/requests.js";
import { reviewsScreen } from "./screens/reviews.js";
import { $, app, now } from "./app.js";
import { bindScreen } from "./bindings.js";
import { renderDynamic } from "./dynamic.js";

const ROUTES = ["home", "elevate", "password", "approvals", "reviews", "alarms", "history", "device"];

export function renderShell() {
  document.documentElement.lang = language();
  document.title = t("appTitle");
  const options = KNOWN.map(
    (code) =>
      `<option value="${code}" lang="${code}"${code === language() ? " selected" : ""}>${LANGUAGES[code]}</option>`,
  ).join("");
  document.getElementById("app").innerHTML = `
    <a class="skip" href="#main">${esc(t("skip"))}</a>
    <header class="top">
      <h1 class="brand">pamchain</h1>
      <label class="lang"><span class="visually-hidden">${esc(t("language"))}</span>
        <select id="lang" aria-label="${esc(t("language"))}">${options}</select></label>
    </header>
    <div id="offline" class="banner" role="status" aria-live="polite" ${app.online ? "hidden" : ""}>${esc(app.online ? "" : app.snapshot.banner())}</div>
    <nav id="nav" aria-label="${esc(t("nav"))}" hidden></nav>
    <main id="main" tabindex="-1"></main>
    <footer class="foot"><a href="#/privacy" id="privacy-link">${esc(t("privacyLink"))}</a></footer>
    <div id="live" class="visually-hidden" role="status" aria-live="polite"></div>`;
  $("#lang").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    app.rendered.clear();
    renderShell();
    render(true);
    $("#lang").focus();
  });
}

function renderNav() {
  const nav = $("#nav");
  if (app.gate !== "app") {
    nav.hidden = true;
    nav.innerHTML = "";
    return;
  }
  const waiting = app.me ? app.ledger.waitingFor(app.me, now()).length : 0;
  const toReview = app.me ? app.ledger.toReview(app.me, now()).length : 0;
  const shown = (r) =>
    (r !== "approvals" || app.ledger.isApprover(app.me)) &&
    (r !== "reviews" || (app.me && app.ledger.reviewedBy(app.me).length > 0)) &&
    (r !== "alarms" || readsAlarms(app.config, app.ledger, app.me));
  const items = ROUTES.filter(shown).map((route) => {
    const name = t(`nav${route[0].toUpperCase()}${route.slice(1)}`);
    const count = { approvals: waiting, reviews: toReview }[route];
    const badge = count ? ` <span class="badge">${count}</span>` : "";
    const current = route === app.route ? ' aria-current="page"' : "";
    return `<li><a href="#/${route}"${current}>${esc(name)}${badge}</a></li>`;
  });
  const html = `<ul>${items.join("")}</ul>`;
  if (app.rendered.get("nav") !== html) {
    nav.innerHTML = html;
    app.rendered.set("nav", html);
  }
  nav.hidden = false;
}

function currentGate() {
  if (!app.keys.exists()) return "create";
  if (!app.wallet) return "unlock";
  if (!app.me) return "enrol";
  return "app";
}

/** Render the current screen; `force` rebuilds forms too (route, gate or language changed). */
export function render(force = false) {
  const gate = currentGate();
  const route = (location.hash.replace(/^#\/?/, "") || "home").split("?")[0];
  const nextRoute = ROUTES.includes(route) || route === "privacy" ? route : "home";
  // The terms are reachable from every screen, before a key exists too.
  const shownGate = nextRoute === "privacy" ? "privacy" : gate;
  const changed = force || shownGate !== app.gate || (gate === "app" && nextRoute !== app.route);
  app.gate = shownGate;
  app.route = nextRoute;
  renderNav();
  if (changed) {
    // The screen's lists are new elements: fill them again even if their content did not change.
    for (const key of [...app.rendered.keys()]) if (key !== "nav") app.rendered.delete(key);
    const main = $("#main");
    main.innerHTML = screen();
    bindScreen(render);
    const heading = main.querySelector("h2");
    if (heading && !force) heading.focus();
  }
  renderDynamic();
}

function screen() {
  switch (app.gate) {
    case "privacy":
      return privacyScreen(currentGate() === "app" ? "#/home" : "#/");
    case "create":
      return createScreen();
    case "unlock":
      return unlockScreen();
    case "enrol":
      return deviceScreen();
    default:
      return routeScreen();
  }
}

function routeScreen() {
  switch (app.route) {
    case "elevate":
      return elevateScreen();
    case "password":
      return passwordScreen();
    case "approvals":
      return approvalsScreen();
    case "alarms":
      return alarmsScreen();
    case "reviews":
      return reviewsScreen();
    case "history":
      return historyScreen();
    case "device":
      return deviceScreen();
    default:
      return homeScreen();
  }
}
