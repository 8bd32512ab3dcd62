// Runs the phone's justification module (src/justification.js) for the Python test that checks the phone and
// the SDK read each other's envelopes: one JSON command on stdin, one JSON answer on stdout.
//   {"op": "seal", "recipients": ["0x<x25519>", ...], "subject", "target", "text"} -> {"envelope", "hash"}
//   {"op": "open", "key": "0x<eth private key>", "envelope", "hash", "subject", "target"} -> {"text"} | {"unreadable"}
//   {"op": "announce", "key": "0x<eth private key>", "chain_id"} -> the key announcement

import { Wallet, hexlify } from "ethers";
import { Unreadable, announceKey, openJustification, sealJustification } from "../src/justification.js";

async function run(command) {
  switch (command.op) {
    case "seal": {
      const { envelope, hash } = await sealJustification(command.recipients, command.subject, command.target, command.text);
      return { envelope: hexlify(envelope), hash };
    }
    case "open":
      try {
        return { text: await openJustification(command.key, command.envelope, command.hash, command.subject, command.target) };
      } catch (exc) {
        if (exc instanceof Unreadable) return { unreadable: exc.code };
        throw exc;
      }
    case "announce":
      return announceKey(new Wallet(command.key), command.chain_id);
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => process.stdout.write(JSON.stringify(await run(JSON.parse(input)))));
