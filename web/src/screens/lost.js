// "I lost my device": a code signed now by this device's key that a council member turns into a suspension
// (`pamchain principal lost-device CODE`, sdk/chain/lost_device.py). The chain lets only the council suspend, so a
// person cannot suspend themself from another device; the code needs no contract change.

import { getBytes } from "ethers";
import { esc } from "../html.js";
import { t } from "../i18n.js";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"; // RFC 4648 base32: case-free, no 0/1/8/9 to confuse

/** The text the device key signs (EIP-191): bound to the chain and the contract, like sdk/chain/lost_device.py. */
export function lostDeviceMessage(chainId, contract) {
  return `pamchain-lost-device:v1:${chainId}:${contract.toLowerCase()}`;
}

function base32(bytes) {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** The code: the 65-byte signature in base32, in groups of four for reading aloud or typing. */
export async function lostDeviceCode(wallet, chainId, contract) {
  const signature = await wallet.signMessage(lostDeviceMessage(chainId, contract));
  return base32(getBytes(signature)).match(/.{1,4}/g).join("-");
}

export function lostSection() {
  return `<h3 id="lost-title">${esc(t("lostTitle"))}</h3>
    <p>${esc(t("lostIntro"))}</p>
    <button type="button" id="lost-show" data-action="lost-show">${esc(t("lostShow"))}</button>
    <p id="lost-status" class="form-status" role="status"></p>
    <div id="lost-box" hidden>
      <label for="lost-code">${esc(t("lostCode"))}</label>
      <textarea id="lost-code" class="mono" rows="4" readonly aria-describedby="lost-hint"></textarea>
      <p id="lost-hint" class="hint">${esc(t("lostCodeHint"))}</p>
      <div id="lost-qr" class="qr"></div>
      <a id="lost-download" download="pamchain-lost-device-code.txt" href="#">${esc(t("download"))}</a>
    </div>`;
}
