"""Signing and sending: nonces that survive concurrent senders and node restarts, EIP-1559 fees, reverts decoded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from pamchain.sdk.errors import NodeUnavailable, SdkError, Timeout, TransactionFailed, revert_from_message
from web3 import Web3
from web3._utils.method_formatters import receipt_formatter
from web3.datastructures import AttributeDict
from web3.exceptions import (
    ContractLogicError,
    MethodUnavailable,
    TransactionIndexingInProgress,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import RPCEndpoint, TxParams

# Errors after which the node's view of our nonce is right and ours is stale: resync and re-sign.
_STALE_NONCE = (
    "nonce too low",
    "invalid transaction nonce",
    "already known",
    "replacement transaction underpriced",
    "nonce has already been used",
)
_GAS_MARGIN_NUM, _GAS_MARGIN_DEN = (
    6,
    5,
)  # estimates get 20 % headroom: state can move between estimate and block
RECEIPT_POLL_FIRST = 0.005  # seconds before the first receipt poll after sending; doubled each time
RECEIPT_POLL_CAP = 0.05  # the longest wait between two polls
METHOD_NOT_FOUND = -32601


@dataclass(frozen=True, slots=True)
class Sent:
    """A mined transaction: its hash and receipt."""

    tx_hash: str
    receipt: Any


class Sender:
    """Sends transactions for one account; thread-safe.

    The next nonce is ``max(local counter, node's pending count)``: a second process using the same key, or a
    node restart that dropped the pool, is repaired by resyncing on a stale-nonce error and signing again.
    """

    def __init__(self, w3: Web3, account: LocalAccount, *, receipt_timeout: float = 60.0) -> None:
        self.w3 = w3
        self.account = account
        self.receipt_timeout = receipt_timeout
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None
        self._pending_estimates = True  # False once the provider proves it lacks "pending" estimates
        self._sync_sends = True  # False once the node proves it lacks eth_sendRawTransactionSync (EIP-7966)

    @property
    def address(self) -> str:
        return self.account.address

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def _reserve_nonce(self, resync: bool) -> int:
        with self._lock:
            if resync or self._next_nonce is None:
                self._next_nonce = int(
                    self.w3.eth.get_transaction_count(cast(ChecksumAddress, self.address), "pending")
                )
            nonce = self._next_nonce
            self._next_nonce += 1
            return nonce

    def _forget_nonce(self) -> None:
        with self._lock:
            self._next_nonce = None

    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas", 0) or 0)
        try:
            tip = int(self.w3.eth.max_priority_fee)
        except (Web3RPCError, ValueError):
            tip = 1_000_000_000
        return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}

    def estimate(self, tx: dict[str, Any]) -> int:
        """Gas for ``tx`` with headroom; a revert surfaces here as the contract's domain exception."""
        try:
            gas = self._estimate(tx)
        except Web3RPCError as exc:
            raise _rpc_failure(exc) from exc
        except Exception as exc:
            revert = as_revert(exc)
            if revert is None:
                raise
            raise revert from exc
        return gas * _GAS_MARGIN_NUM // _GAS_MARGIN_DEN

    def _estimate(self, tx: dict[str, Any]) -> int:
        """Estimate against the block the transaction will land in (``pending``: its timestamp, not the last
        block's, which matters on a chain sealing on demand); providers without ``pending`` estimates
        (eth-tester) fall back to their default."""
        if self._pending_estimates:
            try:
                return int(self.w3.eth.estimate_gas(cast(TxParams, tx), "pending"))
            except MethodUnavailable:
                self._pending_estimates = False
        return int(self.w3.eth.estimate_gas(cast(TxParams, tx)))

    def send(self, tx: dict[str, Any], *, wait: bool = True) -> Sent:
        """Fill in nonce, gas and fees, sign, send and (by default) wait for the receipt."""
        base = {"from": self.address, "chainId": self.chain_id(), **tx}
        if "gas" not in base:
            base["gas"] = self.estimate({k: v for k, v in base.items() if k != "nonce"})
        base.update({k: v for k, v in self._fees().items() if k not in base})
        resync = False
        receipt: Any = None
        for _attempt in range(4):
            signed_tx = dict(base, nonce=self._reserve_nonce(resync))
            signed = self.account.sign_transaction(signed_tx)
            try:
                if wait and self._sync_sends:
                    tx_hash, receipt = self._send_sync(HexBytes(signed.raw_transaction))
                else:
                    tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except (ConnectionError, OSError, requests.exceptions.ConnectionError) as exc:
                self._forget_nonce()
                raise NodeUnavailable(f"node unreachable: {exc}") from exc
            except Exception as exc:
                message = str(exc).lower()
                if any(marker in message for marker in _STALE_NONCE):
                    resync = True
                    continue
                self._forget_nonce()
                if isinstance(exc, Web3RPCError):
                    raise _rpc_failure(exc) from exc
                raise
            break
        else:
            raise TransactionFailed("could not find a free nonce after 4 attempts")
        hex_hash = HexBytes(tx_hash).to_0x_hex()
        if not wait:
            return Sent(hex_hash, None)
        if receipt is None:
            receipt = self.wait(hex_hash)
        if receipt["status"] != 1:
            raise self._failure_reason(signed_tx, receipt, hex_hash)
        return Sent(hex_hash, receipt)

    def _send_sync(self, raw: HexBytes) -> tuple[HexBytes, Any]:
        """EIP-7966 ``eth_sendRawTransactionSync``: the hash and, once a block holds the transaction, its
        receipt in the same request (no polls, nothing sleeping on a timer). The receipt is None when the node
        gave up waiting (error 4: its timeout) or the transaction waits behind a missing nonce (5): it is
        pooled, and ``wait`` polls for it as after ``eth_sendRawTransaction``. A node without the method
        (-32601) is remembered and sent to the classic way."""
        response = self.w3.provider.make_request(RPCEndpoint("eth_sendRawTransactionSync"), [raw.to_0x_hex()])
        error = response.get("error")
        if error is None:
            receipt = AttributeDict.recursive(receipt_formatter(response["result"]))
            return HexBytes(receipt["transactionHash"]), receipt
        code = error.get("code") if isinstance(error, dict) else None
        if code in (4, 5) and isinstance(error.get("data"), str):
            return HexBytes(error["data"]), None
        if code == METHOD_NOT_FOUND:
            self._sync_sends = False
            return HexBytes(self.w3.eth.send_raw_transaction(raw)), None
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        raise Web3RPCError(message, rpc_response=response)

    def send_all(self, txs: list[dict[str, Any]]) -> list[Sent]:
        """Send transactions back to back with consecutive nonces, then wait for every receipt.

        For a batch whose calls depend on each other's effects (so cannot be estimated one by one), each
        transaction must carry its own ``gas``. The batch lands in a block or two instead of one block per
        call. The first failure is raised with its revert reason once every receipt is in.
        """
        if any("gas" not in tx for tx in txs):
            raise ValueError("every transaction of a batch needs an explicit gas limit")
        fees = self._fees()
        signed_txs, hashes = [], []
        for tx in txs:
            full = {"from": self.address, "chainId": self.chain_id(), **fees, **tx}
            sent = self.send(full, wait=False)
            signed_txs.append(full)
            hashes.append(sent.tx_hash)
        receipts = [self.wait(tx_hash) for tx_hash in hashes]
        for full, receipt, tx_hash in zip(signed_txs, receipts, hashes, strict=True):
            if receipt["status"] != 1:
                raise self._failure_reason(full, receipt, tx_hash)
        return [Sent(tx_hash, receipt) for tx_hash, receipt in zip(hashes, receipts, strict=True)]

    def wait(self, tx_hash: str) -> Any:
        """The receipt, polled 5 ms after sending and then at doubling intervals up to 50 ms: a chain sealing
        on demand mines within milliseconds, and a fixed 50 ms poll cost an oracle up to 50 ms per receipt."""
        deadline = time.monotonic() + self.receipt_timeout
        delay = RECEIPT_POLL_FIRST
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except (TransactionNotFound, TransactionIndexingInProgress):
                pass
            if time.monotonic() >= deadline:
                raise Timeout(f"no receipt for {tx_hash} after {self.receipt_timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, RECEIPT_POLL_CAP)

    def _failure_reason(self, tx: dict[str, Any], receipt: Any, tx_hash: str) -> SdkError:
        """Replay a failed transaction as a call at its block's parent to recover the revert reason."""
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            self.w3.eth.call(cast(TxParams, call), receipt["blockNumber"] - 1)
        except Exception as exc:
            revert = as_revert(exc)
            if revert is not None:
                return revert

        return TransactionFailed(f"transaction {tx_hash} failed", tx_hash=tx_hash)


def as_revert(exc: BaseException) -> SdkError | None:
    """A contract revert from any provider (JSON-RPC's ContractLogicError, eth-tester's TransactionFailed)."""
    if isinstance(exc, ContractLogicError):
        return revert_from_message(str(exc.message or exc))
    message = str(exc)
    if "execution reverted" in message:
        return revert_from_message(message)
    return None


def _rpc_failure(exc: Web3RPCError) -> SdkError:
    message = _rpc_message(exc)
    if "revert" in message:
        return revert_from_message(message)
    return TransactionFailed(f"node refused the transaction: {message}")


def _rpc_message(exc: Web3RPCError) -> str:
    response = getattr(exc, "rpc_response", None) or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return str(exc)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Timeout(f"condition not met after {timeout} s")
        time.sleep(interval)
