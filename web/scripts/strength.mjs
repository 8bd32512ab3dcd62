// Scores passwords with the phone's own strength module (src/strength.js), for the Python test that checks the
// phone and the oracle agree: reads [{"password", "account"}, ...] on stdin, prints [score, ...] as JSON.

import { strength } from "../src/strength.js";

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cases = JSON.parse(input);
  process.stdout.write(JSON.stringify(cases.map((c) => strength(c.password, c.account))));
});
