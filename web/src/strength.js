// Password strength: Dropbox's zxcvbn (4.4.2, the JavaScript original), given exactly what the oracle's
// sdk/directory/password_policy.py gives the Python port, so both reach the same verdict (tests/vectors/password-strength.json).

import zxcvbn from "zxcvbn";

const ESTIMATE_LENGTH = 72; // password_policy.ESTIMATE_LENGTH: code points, not UTF-16 units

/** password_policy.strength_input: the first 72 code points, each one beyond the BMP as U+FFFD. */
export function strengthInput(password) {
  return [...password]
    .slice(0, ESTIMATE_LENGTH)
    .map((ch) => (ch.codePointAt(0) > 0xffff ? "\ufffd" : ch))
    .join("");
}

/** zxcvbn's score (0-4) for this account: the account name is the one user input, as in Python. */
export function strength(password, accountName) {
  return zxcvbn(strengthInput(password), accountName ? [accountName] : []).score;
}

