// JSON-RPC to the node through pamchain web's same-origin relay; transactions are signed here, in the browser.

import { Interface, Transaction, ZeroHash, getAddress } from "ethers";
import abi from "./abi.json";
import reviewsAbi from "./reviews_abi.json";

export const iface = new Interface(abi);
// PamReviews (access reviews): its own contract, so its own ABI and address.
export const reviewsIface = new Interface(reviewsAbi);

export class OfflineError extends Error {}

export class RpcError extends Error {
  constructor(message, code, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

let nextId = 1;

/** A JSON-RPC quantity: 0x-hex with no leading zeros. */
const qty = (n) => "0x" + BigInt(n).toString(16);

export class Chain {
  constructor(config) {
    this.config = config;
    this.contract = getAddress(config.contract);
    this.reviews = config.reviews ? getAddress(config.reviews) : null;
  }

  /** The address and ABI a function or a log belongs to: PamChain, or PamReviews for `reviews`. */
  target(which) {
    return which === "reviews" ? { to: this.reviews, abi: reviewsIface } : { to: this.contract, abi: iface };
  }

  /** The decoder for a log of `address` (either contract of the deployment). */
  decoderFor(address) {
    return this.reviews && getAddress(address) === this.reviews ? reviewsIface : iface;
  }

  async rpc(method, params = []) {
    let response;
    try {
      response = await fetch(this.config.rpc_path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
        cache: "no-store",
      });
    } catch (exc) {
      throw new OfflineError(String(exc));
    }
    if (response.status >= 500) throw new OfflineError(`relay answered ${response.status}`);
    const body = await response.json();
    if (body.error) throw new RpcError(body.error.message, body.error.code, body.error.data);
    return body.result;
  }

  /** A view call decoded with the suite's ABI; a single return value comes back unwrapped. */
  async call(fn, args = []) {
    const data = iface.encodeFunctionData(fn, args);
    const raw = await this.rpc("eth_call", [{ to: this.contract, data }, "latest"]);
    const result = iface.decodeFunctionResult(fn, raw);
    return result.length === 1 ? result[0] : result;
  }

  /** A view call on another contract of the deployment (PamFactors), decoded with `fnIface`. */
  async callAt(to, fnIface, fn, args = []) {
    const data = fnIface.encodeFunctionData(fn, args);
    const raw = await this.rpc("eth_call", [{ to: getAddress(to), data }, "latest"]);
    const result = fnIface.decodeFunctionResult(fn, raw);
    return result.length === 1 ? result[0] : result;
  }

  async blockNumber() {
    return Number(await this.rpc("eth_blockNumber"));
  }

  async logs(fromBlock, toBlock) {
    const address = this.reviews ? [this.contract, this.reviews] : this.contract;
    const raw = await this.rpc("eth_getLogs", [{ address, fromBlock: qty(fromBlock), toBlock: qty(toBlock) }]);
    const out = [];
    for (const log of raw) {
      let parsed = null;
      try {
        parsed = this.decoderFor(log.address).parseLog(log);
      } catch {
        parsed = null;
      }
      if (parsed) out.push({ name: parsed.name, args: parsed.args, block: Number(log.blockNumber) });
    }
    return out;
  }

  async blockTime(number) {
    const block = await this.rpc("eth_getBlockByNumber", [qty(number), false]);
    return Number(block.timestamp);
  }

  async balance(address) {
    return BigInt(await this.rpc("eth_getBalance", [address, "latest"]));
  }

  /** The gas price the node suggests: 0 on a free-gas chain (docs/node.md), where an enrolled device needs no
   * ether and its transactions go out at zero price. */
  async gasPrice() {
    return BigInt(await this.rpc("eth_gasPrice"));
  }

  /** Sign `fn(args)` with `wallet` and send it raw to PamChain (or PamReviews when `which` is "reviews");
   * resolves with the receipt's decoded events. */
  async send(wallet, fn, args = [], which = "pam") {
    const { to, abi: fnIface } = this.target(which);
    const data = fnIface.encodeFunctionData(fn, args);
    const from = wallet.address;
    let gas;
    try {
      gas = BigInt(await this.rpc("eth_estimateGas", [{ from, to, data }]));
    } catch (exc) {
      throw new RpcError(revertReason(exc), exc.code, exc.data);
    }
    const [nonce, head, tip] = await Promise.all([
      this.rpc("eth_getTransactionCount", [from, "pending"]),
      this.rpc("eth_getBlockByNumber", ["latest", false]),
      this.rpc("eth_maxPriorityFeePerGas").catch(() => "0x3b9aca00"),
    ]);
    const baseFee = BigInt(head.baseFeePerGas || 0);
    const tx = Transaction.from({
      type: 2,
      chainId: this.config.chain_id,
      nonce: Number(nonce),
      to,
      data,
      value: 0,
      gasLimit: (gas * 13n) / 10n,
      maxPriorityFeePerGas: BigInt(tip),
      maxFeePerGas: baseFee * 2n + BigInt(tip),
    });
    const signed = await wallet.signTransaction(tx);
    const hash = await this.rpc("eth_sendRawTransaction", [signed]);
    const receipt = await this.waitReceipt(hash);
    if (Number(receipt.status) !== 1) throw new RpcError("transaction reverted", 3);
    const events = [];
    for (const log of receipt.logs) {
      try {
        const parsed = this.decoderFor(log.address).parseLog(log);
        if (parsed) events.push({ name: parsed.name, args: parsed.args });
      } catch {
        /* not one of ours */
      }
    }
    return { hash, events };
  }

  async waitReceipt(hash, timeoutMs = 60000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let receipt = null;
      try {
        receipt = await this.rpc("eth_getTransactionReceipt", [hash]);
      } catch (exc) {
        if (!(exc instanceof OfflineError) || Date.now() > deadline) throw exc;
      }
      if (receipt) return receipt;
      if (Date.now() > deadline) throw new RpcError("no receipt yet: check History later", 0);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** "requests: self-approval" out of a node's revert error, whatever shape it came in. */
export function revertReason(exc) {
  const data = exc && exc.data;
  const hex = typeof data === "string" ? data : data && typeof data.data === "string" ? data.data : null;
  if (hex && hex.startsWith("0x08c379a0")) {
    try {
      return iface.getAbiCoder().decode(["string"], "0x" + hex.slice(10))[0];
    } catch {
      /* fall through to the message */
    }
  }
  const message = String((exc && exc.message) || exc);
  return message.replace(/^execution reverted:?\s*/i, "") || "reverted";
}

/** A bytes32 ticket reference: ASCII, right-padded with zeros (sdk/chain/model.py ticket_ref). */
export function ticketRef(text) {
  if (!text) return ZeroHash;
  if (!/^[\x20-\x7e]{0,32}$/.test(text)) throw new RangeError("ticket");
  let hex = "0x";
  for (const ch of text) hex += ch.charCodeAt(0).toString(16).padStart(2, "0");
  return hex.padEnd(66, "0");
}

export function ticketText(bytes32) {
  let out = "";
  for (let i = 2; i < bytes32.length; i += 2) {
    const code = parseInt(bytes32.slice(i, i + 2), 16);
    if (code === 0) break;
    out += String.fromCharCode(code);
  }
  return out;
}
