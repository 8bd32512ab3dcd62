// Contract refusals in the user's terms, from the table the CLI shares (sdk/data/reasons.json), with the
// request's policy read from chain where it says more ("the policy for Domain Admins allows at most 1 h").

import table from "../../sdk/data/reasons.json";

const PLACEHOLDER = /\{(\w+)\}/g;

/** `1 h`, `1 h 30 min`, `45 min`: a policy's limit as people say it (sdk/reasons.py duration_text). */
export function durationText(seconds, lang = "en") {
  const total = Math.max(0, Math.floor(Number(seconds)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h >= 48 && !(h % 24 || m || s)) return `${h / 24} ${lang === "fr" ? "j" : "d"}`;
  return [h ? `${h} h` : "", m ? `${m} min` : "", s ? `${s} s` : ""].filter(Boolean).join(" ") || "0 s";
}

/** What a reason may say about a policy as `policy(target)` returns it (sdk/reasons.py policy_params). */
export function policyParams(policy, group, breakGlass, lang) {
  const cap = breakGlass ? policy.break_glass_max_duration : policy.max_duration;
  return {
    group,
    max: durationText(cap, lang),
    cooldown: durationText(policy.break_glass_cooldown, lang),
    limit: String(policy.unlock_limit),
    window: durationText(policy.unlock_window, lang),
  };
}

/** The sentence for revert `code` ("requests: bad duration") in `lang`, its detail when `params` fill every
 * placeholder; null for a revert the table does not know. */
export function explain(code, lang, params = null) {
  const entry = Object.prototype.hasOwnProperty.call(table, code) && !code.startsWith("_") ? table[code] : null;
  if (!entry) return null;
  const language = lang === "fr" ? "fr" : "en";
  if (entry.detail && params) {
    const text = entry.detail[language];
    const names = [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
    if (names.every((name) => name in params)) return text.replace(PLACEHOLDER, (_, name) => String(params[name]));
  }
  return entry[language];
}
