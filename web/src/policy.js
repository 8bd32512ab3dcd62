// The password rules of sdk/directory/password_policy.py, checked before anything leaves the phone.
// The breached-list check asks the server only for a range of hashes (k-anonymity): the password,
// and even its full hash, never leave the browser.

export const MIN_LENGTH = 12;
export const MIN_SCORE = 3; // zxcvbn score: password_policy.MIN_SCORE
const MAX_LENGTH = 256;
const MIN_CLASSES = 3;

/** AD's complexity categories present in the password (character_classes in Python). */
export function characterClasses(password) {
  const classes = new Set();
  for (const ch of password) {
    if (/\p{Lu}/u.test(ch)) classes.add("uppercase");
    else if (/\p{Ll}/u.test(ch)) classes.add("lowercase");
    else if (/\p{N}/u.test(ch)) classes.add("digit");
    else if (/\p{L}/u.test(ch)) classes.add("other letter");
    else classes.add("symbol");
  }
  return classes;
}

/** Which local rules pass: {length, classes, name, control}; each true when satisfied. */
export function localRules(password, accountName) {
  const length = [...password].length;
  const name = accountName && accountName.length >= 3 ? accountName.toLowerCase() : null;
  return {
    length: length >= MIN_LENGTH && length <= MAX_LENGTH,
    classes: characterClasses(password).size >= MIN_CLASSES,
    name: !name || !password.toLowerCase().includes(name),
    control: !/\p{Cc}/u.test(password),
  };
}

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when the password is on the server's breached list; asks only for the 5-hex-digit hash prefix. */
export async function isBreached(rangePath, password) {
  const hash = await sha256Hex(password.toLowerCase());
  const response = await fetch(`${rangePath}${hash.slice(0, 5)}`, { cache: "no-store" });
  if (!response.ok) throw new Error(`breached list: ${response.status}`);
  const suffixes = await response.json();
  return suffixes.includes(hash.slice(5));
}

let estimator = null;

/** zxcvbn's score for this account (src/strength.js). Its dictionaries are a chunk of their own, fetched the
 * first time a password is typed, so the other screens never load them. */
export async function strengthScore(password, accountName) {
  estimator = estimator || import("./strength.js");
  return (await estimator).strength(password, accountName);
}
