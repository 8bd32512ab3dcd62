"""Raw JSON-RPC over HTTP(S) with the standard library: answers exactly as the node serves them.

What the auditor's chain check, the oracle's light client and the lean ``ChainReader`` talk through. No web3
formatting (verification needs the node's fields as served) and no ``requests`` (~0.1 s to import, a third of a
read-only command's budget): one keep-alive ``http.client`` connection, re-opened when the node closed it.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

from pamchain.sdk.errors import NodeUnavailable, SdkError


class RpcError(SdkError):
    """The node answered with a JSON-RPC error (``code``, ``rpc_message`` and ``data`` as it sent them)."""

    def __init__(self, method: str, error: Any) -> None:
        error = error if isinstance(error, dict) else {"message": str(error)}
        self.code = error.get("code")
        self.rpc_message = str(error.get("message", error))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.rpc_message}")


LIMIT_EXCEEDED = -32005  # EIP-1474: the request exceeds a limit of the node (log range, results)
# What nodes and hosted endpoints say when a log query is too big, whatever code they chose for it.
_TOO_MANY_LOGS = ("more than", "exceeds max block range", "response size exceeded")


class LogLimitExceeded(SdkError):
    """The node refused a log query as too large (its block range or result count): ask for less."""


def too_many_logs(code: Any, message: str) -> bool:
    """Is this JSON-RPC error a node's refusal of a log query as too large?"""
    return code == LIMIT_EXCEEDED or any(phrase in message.lower() for phrase in _TOO_MANY_LOGS)


class ChainRpc:
    """A JSON-RPC endpoint: ``call`` one method, ``batch`` several in one request; thread-safe."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SdkError(f"{url!r} is not an http(s) JSON-RPC URL")
        self.url = url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None:
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._ids = 0

    def call(self, method: str, *params: Any) -> Any:
        with self._lock:
            self._ids += 1
            body = self._post({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)})
        if not isinstance(body, dict):
            raise SdkError(f"{method}: not a JSON-RPC answer")
        if "error" in body:
            raise RpcError(method, body["error"])
        return body.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC batch; results in call order (an error entry raises)."""
        if not calls:
            return []
        with self._lock:
            first = self._ids + 1
            self._ids += len(calls)
            body = self._post(
                [
                    {"jsonrpc": "2.0", "id": first + i, "method": method, "params": params}
                    for i, (method, params) in enumerate(calls)
                ]
            )
        if isinstance(body, dict):  # the whole batch was refused
            raise RpcError("batch", body.get("error", body))
        by_id = {entry.get("id"): entry for entry in body if isinstance(entry, dict)}
        results = []
        for i, (method, _) in enumerate(calls):
            entry = by_id.get(first + i)
            if entry is None:
                raise SdkError(f"{method}: no answer in the batch")
            if "error" in entry:
                raise RpcError(method, entry["error"])
            results.append(entry.get("result"))
        return results

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _post(self, payload: Any) -> Any:
        """POST ``payload``; a kept-alive connection the node has closed meanwhile is re-opened once."""
        data = json.dumps(payload).encode()
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                connection = self._connect()
                connection.request("POST", self._path, data, self._headers)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                if reused and attempt == 1 and isinstance(exc, _STALE):
                    continue
                raise NodeUnavailable(f"no node answers at {self.url}") from exc
            if response.will_close:
                self._drop()
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise NodeUnavailable(f"{self.url} did not answer JSON-RPC (HTTP {response.status})") from exc
        raise AssertionError("unreachable")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self.timeout)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- reads with a shape ------------------------------------------------------------------------------

    def block(self, number: int) -> dict[str, Any]:
        block = self.call("eth_getBlockByNumber", hex(number), True)
        if block is None:
            raise SdkError(f"the node has no block {number}")
        return dict(block)

    def receipts(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        if not block.get("transactions"):
            return []
        try:
            result = self.call("eth_getBlockReceipts", block["number"])
            if result is not None:
                return list(result)
        except RpcError:
            pass  # not every node has eth_getBlockReceipts
        return [self.call("eth_getTransactionReceipt", tx["hash"]) for tx in block["transactions"]]


# A kept-alive connection the server closed shows as one of these on the next request.
_STALE = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.CannotSendRequest,
)

__all__ = ["ChainRpc", "RpcError"]
