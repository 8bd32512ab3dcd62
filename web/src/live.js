// Live updates: one poll of the node per round (logs, enrolment, times), what changed spoken, online/offline.

import { ZeroHash } from "ethers";
import { OfflineError } from "./chain.js";
import { t } from "./i18n.js";
import { announceKey } from "./justification.js";
import { Ledger } from "./ledger.js";
import { refuseSending } from "./offline.js";
import { readsAlarms } from "./screens/alarms.js";
import { receiptText } from "./screens/requests.js";
import { publishKey } from "./secrets.js";
import { $, announce, app, now } from "./app.js";

/** Publish this device's encryption key once per session, so requesters can seal justifications to it. */
async function publishDeviceKey() {
  if (!app.wallet || !app.me || app.keyPublished === app.wallet.address || !app.config.payload_path) return;
  if (Date.now() < app.keyRetryAt) return;
  app.keyPublished = app.wallet.address;
  try {
    await publishKey(app.config.payload_path, await announceKey(app.wallet, app.config.chain_id));
  } catch (exc) {
    // The store learns new enrolments from the chain every few seconds: try again then, not at every poll
    // (every phone behind the relay shares the store's rate limit).
    app.keyPublished = null;
    app.keyRetryAt = Date.now() + 5000;
    console.warn(`publishing the encryption key: ${exc.message || exc}`);
  }
}

// Redraws the screen after a round. The shell is handed in (startLive), not imported: it binds the forms whose
// actions poll, so importing it here would close a cycle.
let redraw = () => {};

let polling = null;

/** One round: new logs since the last block seen, enrolment, receipts' times; marks online/offline. */
export async function poll() {
  if (polling) return polling;
  polling = (async () => {
    try {
      await pollOnce();
      setOnline(true);
    } catch (exc) {
      if (exc instanceof OfflineError) {
        setOnline(false);
        if (app.snapshot.restore(app)) redraw();
      } else console.error(exc);
    } finally {
      polling = null;
    }
  })();
  return polling;
}

async function pollOnce() {
  const chain = app.chain;
  const head = await chain.blockNumber();
  app.snapshot.reset(app); // the node answers: the cached state gives way to the chain's
  if (head > app.scanned) {
    for (let from = app.scanned + 1; from <= head; from += 2000) {
      const to = Math.min(head, from + 1999);
      for (const event of await chain.logs(from, to)) {
        if (app.alarms.apply(event)) continue;
        app.ledger.apply(event);
        app.snapshot.record(event);
      }
      app.scanned = to;
    }
  }
  const address = app.address || app.keys.address();
  if (address && (!app.me || app.principalSeen !== app.ledger.principalEvents)) {
    const id = await chain.call("principal_of", [address]);
    app.me = id === ZeroHash ? null : id;
    if (app.me) {
      const [, domain, status] = await chain.call("principal", [app.me]);
      app.principal = { domain, status: Number(status) };
      [app.balance, app.gasPrice] = await Promise.all([chain.balance(address), chain.gasPrice()]);
    }
    app.principalSeen = app.ledger.principalEvents;
  }
  // PamFactors' state only where it is shown (its events are not in the app's log scan).
  if (app.me && app.gate === "app" && app.route === "device") app.passkey = await app.passkeys.onChain(app.me);
  publishDeviceKey();
  if (readsAlarms(app.config, app.ledger, app.me)) {
    for (const alarm of app.alarms.list) {
      if (alarm.time !== null) continue;
      if (!app.blockTimes.has(alarm.block)) app.blockTimes.set(alarm.block, await chain.blockTime(alarm.block));
      alarm.time = app.blockTimes.get(alarm.block);
    }
  }
  for (const r of app.ledger.requests.values()) {
    for (const receipt of r.receipts) {
      if (receipt.time === null) {
        if (!app.blockTimes.has(receipt.block)) app.blockTimes.set(receipt.block, await chain.blockTime(receipt.block));
        receipt.time = app.blockTimes.get(receipt.block);
      }
    }
  }
  announceChanges();
  app.loaded = true;
  app.snapshot.save(app);
  redraw();
}

/** Speak what changed since the last round (not on first load): my statuses, receipts, new requests to approve. */
function announceChanges() {
  if (!app.me) return;
  const t0 = now();
  const messages = [];
  for (const r of app.ledger.mine(app.me)) {
    const status = Ledger.status(r, t0);
    const key = `${status}:${r.receipts.length}`;
    const before = app.announced.get(r.id);
    app.announced.set(r.id, key);
    if (!app.loaded || before === key) continue;
    if (r.receipts.length && (!before || !before.endsWith(`:${r.receipts.length}`))) {
      messages.push(t("announceReceipt", { id: r.id, receipt: receiptText(r.receipts[r.receipts.length - 1]) }));
    } else {
      messages.push(t("announceStatus", { id: r.id, kind: t(`kind${r.kind}`), status: t(`status${status}`) }));
    }
  }
  for (const r of app.ledger.waitingFor(app.me, t0)) {
    const key = `waiting:${r.id}`;
    if (app.announced.has(key)) continue;
    app.announced.set(key, true);
    if (app.loaded) messages.push(t("announcePending", { id: r.id }));
  }
  for (const item of app.ledger.toReview(app.me, t0)) {
    const key = `review:${item.campaignId}`;
    if (app.announced.has(key)) continue;
    app.announced.set(key, true);
    if (app.loaded) messages.push(t("announceReview", { campaign: item.campaignId }));
  }
  if (readsAlarms(app.config, app.ledger, app.me)) {
    app.alarms.list.forEach((alarm, index) => {
      const key = `alarm:${index}`;
      if (app.announced.has(key)) return;
      app.announced.set(key, true);
      if (app.loaded) messages.push(t("announceAlarm", { kind: t(`alarmKind${alarm.kind}`) }));
    });
  }
  if (messages.length) announce(messages.join(" "));
}

function setOnline(online) {
  if (online === app.online) return;
  app.online = online;
  const banner = $("#offline");
  banner.hidden = online;
  banner.textContent = online ? "" : app.snapshot.banner();
  document.body.dataset.online = String(online);
  refuseSending(online);
  if (online) announce(t("online"));
}

function loop() {
  poll().finally(() => setTimeout(loop, app.config.poll_ms || 1000));
}

/** Poll from now on, redrawing with `render` after each round. */
export function startLive(render) {
  redraw = render;
  loop();
}
