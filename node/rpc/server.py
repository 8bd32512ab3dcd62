"""HTTP and WebSocket transport for JSON-RPC 2.0 (aiohttp).

Why aiohttp: it is already a dependency of web3.py (no new package), serves HTTP and WebSocket on the same
port from one asyncio loop, enforces a request-body limit before reading, and keeps per-request overhead low
enough that the client, not the server, is the limit (see bench/node_throughput.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from pamchain.sdk import jsonsafe

from ..abc import RpcBackend
from ..errors import NodeError
from ..events import Event, Events, NewHead, PendingTransaction
from ..metrics import CONTENT_TYPE, NodeMetrics
from . import format as fmt
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_ERROR,
    RpcError,
)
from .filters import LogCriteria
from .limits import RpcLimits
from .methods import RpcApi

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # geth's default HTTP body limit
RESPONSE_TOO_LARGE = -32003  # geth's code for "response too large"
WS_POLICY_VIOLATION = 1008  # RFC 6455 close codes
# Kernel send buffer of a WebSocket: small enough that a client which stops reading is noticed within a few
# blocks (and cannot pin megabytes of kernel memory per connection), large enough for any burst of notifications.
WS_SOCKET_SEND_BUFFER = 256 * 1024


def _error(id_: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": err}


def _failure(id_: Any, method: str, exc: Exception) -> dict[str, Any]:
    """The error response of a request whose handler raised ``exc``."""
    if isinstance(exc, RpcError):
        return _error(id_, exc.code, exc.message, exc.data)
    if isinstance(exc, NodeError):
        return _error(id_, SERVER_ERROR, str(exc))
    if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, OverflowError)):
        # Parameters that got past decoding but are still unusable (e.g. absurd sizes).
        return _error(id_, INVALID_PARAMS, f"invalid argument: {exc}"[:300])
    log.error("internal error in %s", method, exc_info=exc)
    return _error(id_, INTERNAL_ERROR, "internal error")


def _send_request(item: Any) -> bool:
    """A well-formed ``eth_sendRawTransaction`` request with an id (batches admit runs of them together)."""
    if not isinstance(item, dict) or item.get("method") != "eth_sendRawTransaction" or "id" not in item:
        return False
    id_ = item["id"]
    return (
        item.get("jsonrpc") == "2.0"
        and isinstance(id_, (str, int, float, type(None)))
        and not isinstance(id_, bool)
        and isinstance(item.get("params", []), list)
    )


SEND_RESPONSE_BOUND = 300  # bytes: a send's response (a hash or an error) never exceeds this with its id


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class _Connection:
    """One WebSocket client: its subscriptions and a bounded queue of messages a writer task sends.

    Publishing only enqueues (``offer``), so neither sealing nor other clients ever wait for this one; a
    client whose queue fills up, or whose socket does not take a message within the write timeout, is
    dropped with a close reason (what geth's per-subscriber feeds and write deadlines achieve).
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, limits: RpcLimits) -> None:
        self.ws = ws
        self.request = request
        self.limits = limits
        self.subs: dict[str, tuple[str, LogCriteria | None]] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue(limits.ws_send_queue or 0)
        self.dropped: str | None = None
        self.closing: asyncio.Task[None] | None = None
        self.writer = asyncio.get_running_loop().create_task(self._write(), name="pamchain-ws-writer")

    def offer(self, text: str) -> None:
        if self.dropped is not None:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.drop(f"slow consumer: more than {self.limits.ws_send_queue} messages queued")

    def drop(self, reason: str) -> None:
        if self.dropped is not None:
            return
        self.dropped = reason
        log.warning("dropping WebSocket client %s: %s", self.request.remote, reason)
        self.writer.cancel()
        # Kept on the connection: the loop holds tasks only weakly.
        self.closing = asyncio.get_running_loop().create_task(self._close(reason), name="pamchain-ws-close")

    async def _close(self, reason: str) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(
                self.ws.close(code=WS_POLICY_VIOLATION, message=reason.encode()[:120]), 1.0
            )
        transport = self.request.transport
        if transport is not None and not transport.is_closing():
            transport.abort()  # its buffers are full: a close frame cannot get through, reset it

    async def _write(self) -> None:
        timeout = self.limits.ws_write_timeout or None
        while True:
            text = await self.queue.get()
            try:
                await asyncio.wait_for(self.ws.send_str(text), timeout)
            except TimeoutError:
                self.drop(f"slow consumer: a message took over {self.limits.ws_write_timeout:g}s to send")
                return
            except (ConnectionError, RuntimeError):
                return  # closed under us; the reader loop ends too


# geth's accepted JSON-RPC content types.
_JSON_TYPES = ("application/json", "application/json-rpc", "application/jsonrequest")


class RpcServer:
    """Dispatches decoded requests to ``RpcApi`` and owns the HTTP/WS endpoint."""

    def __init__(
        self,
        node: RpcBackend,
        api: RpcApi,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        cors_origin: str | None = None,
        limits: RpcLimits | None = None,
        metrics: NodeMetrics | None = None,
        events: Events | None = None,
    ) -> None:
        self.node = node
        self.api = api
        self.events = events or Events()
        self._tasks: set[asyncio.Task[None]] = set()  # notifications being prepared (a chain read each)
        self.metrics = metrics
        self.max_body = max_body
        self.cors_origin = cors_origin
        self.limits = limits or RpcLimits()
        self._sockets: dict[web.WebSocketResponse, _Connection] = {}
        self.app = web.Application(client_max_size=max_body)
        self.app.router.add_post("/", self._http)
        self.app.router.add_get("/", self._ws_or_info)
        self.app.router.add_route("OPTIONS", "/", self._preflight)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._metrics)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self, host: str, port: int) -> None:
        # In-flight requests get a second to finish when the node stops, not aiohttp's default minute: a request
        # caught half-way by the stop (its body never read) kept a stopping `pamchain devnet` alive for 30 s.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.events.subscribe(self.on_event)

    async def stop(self) -> None:
        self.events.unsubscribe(self.on_event)
        for task in list(self._tasks):
            task.cancel()
        for ws, conn in list(self._sockets.items()):
            conn.writer.cancel()
            with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(ws.close(), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()

    # ----------------------------------------------------------------------------------------- dispatch
    async def handle_payload(self, text: str | bytes, ws: web.WebSocketResponse | None = None) -> str | None:
        """The encoded response for one request body, or None when nothing is owed."""
        try:
            payload = jsonsafe.loads(text)
        except jsonsafe.TooDeep as exc:
            return _dumps(_error(None, PARSE_ERROR, f"parse error: {exc}"))
        except (ValueError, RecursionError):
            return _dumps(_error(None, PARSE_ERROR, "parse error"))
        cap = self.limits.response_max_bytes
        if isinstance(payload, list):
            if not payload:
                return _dumps(_error(None, INVALID_REQUEST, "empty batch"))
            limit = self.limits.batch_limit
            if limit and len(payload) > limit:
                return _dumps(_error(None, INVALID_REQUEST, f"batch too large (limit {limit} requests)"))
            parts: list[str] = []
            size = 2
            index = 0
            while index < len(payload):
                run = self._send_run(payload, index, size)
                responses: list[dict[str, Any] | None]
                if run:
                    items = payload[index : index + run]
                    responses = list(await self._send_many(items))
                else:
                    items = payload[index : index + 1]
                    item = items[0]
                    response: dict[str, Any] | None
                    if cap and size > cap:  # geth: once over, the rest only get the error
                        response = self._too_large(item) if isinstance(item, dict) and "id" in item else None
                    else:
                        response = await self._handle_one(item, ws)
                    responses = [response]
                index += len(items)
                for item, response in zip(items, responses, strict=True):
                    if response is not None:
                        part = _dumps(response)
                        if cap and size + len(part) + 1 > cap:
                            part = _dumps(self._too_large(item))
                        size += len(part) + 1
                        parts.append(part)
            return "[" + ",".join(parts) + "]" if parts else None
        single = await self._handle_one(payload, ws)
        if single is None:
            return None
        encoded = _dumps(single)
        if cap and len(encoded) > cap:
            return _dumps(self._too_large(payload))
        return encoded

    def _send_run(self, payload: list[Any], start: int, size: int) -> int:
        """How many requests from ``start`` on form a run of transactions to admit together (0: fewer than two,
        or their responses could reach the response cap, where each must be handled on its own)."""
        end = start
        while end < len(payload) and _send_request(payload[end]):
            end += 1
        run = end - start
        cap = self.limits.response_max_bytes
        if run < 2 or (cap and size + run * SEND_RESPONSE_BOUND > cap):
            return 0
        return run

    async def _send_many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The responses to a run of ``eth_sendRawTransaction`` requests, admitted in one go (in order)."""
        started = time.perf_counter()
        outcomes = await self.api.send_raw_transactions([item.get("params", []) or [] for item in items])
        responses = [
            _failure(item["id"], "eth_sendRawTransaction", outcome)
            if isinstance(outcome, Exception)
            else {"jsonrpc": "2.0", "id": item["id"], "result": outcome}
            for item, outcome in zip(items, outcomes, strict=True)
        ]
        if self.metrics is not None:
            each = (time.perf_counter() - started) / len(items)
            for item, response in zip(items, responses, strict=True):
                self.metrics.observe_rpc(item, response, each, self.api.methods)
        return responses

    def _too_large(self, req: Any) -> dict[str, Any]:
        id_ = req.get("id") if isinstance(req, dict) else None
        if not isinstance(id_, (str, int, float, type(None))) or isinstance(id_, bool):
            id_ = None
        limit = self.limits.response_max_bytes
        return _error(id_, RESPONSE_TOO_LARGE, f"response too large (limit {limit} bytes)")

    async def _handle_one(self, req: Any, ws: web.WebSocketResponse | None) -> dict[str, Any] | None:
        if self.metrics is None:
            return await self._dispatch_one(req, ws)
        started = time.perf_counter()
        response = await self._dispatch_one(req, ws)
        self.metrics.observe_rpc(req, response, time.perf_counter() - started, self.api.methods)
        return response

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        assert self.metrics is not None
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _dispatch_one(self, req: Any, ws: web.WebSocketResponse | None) -> dict[str, Any] | None:
        if not isinstance(req, dict):
            return _error(None, INVALID_REQUEST, "invalid request")
        id_ = req.get("id")
        is_notification = "id" not in req
        if not isinstance(id_, (str, int, float, type(None))) or isinstance(id_, bool):
            return _error(None, INVALID_REQUEST, "invalid request id")
        if req.get("jsonrpc") != "2.0":
            return _error(id_, INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"')
        method = req.get("method")
        if not isinstance(method, str):
            return _error(id_, INVALID_REQUEST, "invalid request: method must be a string")
        params = req.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list):
            result: dict[str, Any] = _error(id_, INVALID_PARAMS, "non-array args")
            return None if is_notification else result
        try:
            if method in ("eth_subscribe", "eth_unsubscribe"):
                if ws is None:
                    raise RpcError(METHOD_NOT_FOUND, "notifications not supported")
                value = await (
                    self._subscribe(ws, params)
                    if method == "eth_subscribe"
                    else self._unsubscribe(ws, params)
                )
            else:
                handler = self.api.methods.get(method)
                if handler is None:
                    raise RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available")
                value = await handler(params)
            response: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "result": value}
        except Exception as exc:
            response = _failure(id_, method, exc)
        return None if is_notification else response

    # --------------------------------------------------------------------------------------------- HTTP
    def _cors(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if self.cors_origin is not None and origin is not None and (self.cors_origin in ("*", origin)):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    async def _preflight(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=204)
        self._cors(request, response)
        if "Access-Control-Allow-Origin" in response.headers:
            response.headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    def _origin_allowed(self, request: web.Request) -> bool:
        """Non-browser clients send no Origin; a browser page only from the exact ``--cors-origin`` (or any,
        when it is ``*``): never by prefix, and no other option turns the check off."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return self.cors_origin is not None and (
            self.cors_origin == "*" or origin.casefold() == self.cors_origin.casefold()
        )

    async def _http(self, request: web.Request) -> web.StreamResponse:
        # A cross-site page can POST text/plain or a form without asking first; JSON needs a CORS preflight,
        # which this server grants only to the configured origin. So: JSON only, and the origin checked.
        if request.content_type not in _JSON_TYPES:
            return self._json(
                request, _error(None, INVALID_REQUEST, "Content-Type must be application/json"), status=415
            )
        if not self._origin_allowed(request):
            return self._json(request, _error(None, INVALID_REQUEST, "origin not allowed"), status=403)
        if request.content_length is not None and request.content_length > self.max_body:
            return self._json(request, _error(None, INVALID_REQUEST, "request body too large"), status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._json(request, _error(None, INVALID_REQUEST, "request body too large"), status=413)
        result = await self.handle_payload(body)
        if result is None:
            response = web.Response(status=200)
            self._cors(request, response)
            return response
        return self._text(request, result)

    def _json(self, request: web.Request, obj: Any, status: int = 200) -> web.StreamResponse:
        return self._text(request, _dumps(obj), status)

    def _text(self, request: web.Request, text: str, status: int = 200) -> web.StreamResponse:
        response = web.Response(text=text, status=status, content_type="application/json")
        self._cors(request, response)
        return response

    async def _ws_or_info(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._json(request, _error(None, INVALID_REQUEST, "use POST for JSON-RPC"), status=405)
        if not self._origin_allowed(request):  # browsers always send Origin on a WebSocket upgrade
            return web.Response(status=403, text="origin not allowed")
        limit = self.limits.ws_max_connections
        if limit and len(self._sockets) >= limit:
            # Before the upgrade, so the client reads a JSON-RPC error rather than a dead socket.
            message = f"too many WebSocket connections (limit {limit})"
            return self._json(request, _error(None, LIMIT_EXCEEDED, message), status=503)
        ws = web.WebSocketResponse(max_msg_size=self.max_body, heartbeat=30)
        await ws.prepare(request)
        sock = request.transport.get_extra_info("socket") if request.transport is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WS_SOCKET_SEND_BUFFER)
        conn = _Connection(ws, request, self.limits)
        self._sockets[ws] = conn
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    result = await self.handle_payload(msg.data, ws)
                    if result is not None:
                        conn.offer(result)
                elif msg.type == WSMsgType.ERROR:
                    break
                if conn.dropped is not None:
                    break
        finally:
            self._sockets.pop(ws, None)
            conn.writer.cancel()
        return ws

    # ------------------------------------------------------------------------------------ subscriptions
    async def _subscribe(self, ws: web.WebSocketResponse, params: list[Any]) -> str:
        if not params or not isinstance(params[0], str):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: expected a subscription name")
        kind = params[0]
        subs = self._sockets[ws].subs
        limit = self.limits.ws_max_subscriptions
        if limit and len(subs) >= limit:
            raise RpcError(LIMIT_EXCEEDED, f"too many subscriptions on this connection (limit {limit})")
        criteria = None
        if kind == "logs":
            criteria = self.api._criteria(params[1] if len(params) > 1 and params[1] is not None else {})
        elif kind not in ("newHeads", "newPendingTransactions"):
            raise RpcError(INVALID_PARAMS, f'no "{kind}" subscription in eth namespace')
        sub_id = "0x" + secrets.token_hex(16)
        subs[sub_id] = (kind, criteria)
        return sub_id

    async def _unsubscribe(self, ws: web.WebSocketResponse, params: list[Any]) -> bool:
        if not params or not isinstance(params[0], str):
            raise RpcError(INVALID_PARAMS, "invalid argument 0: expected a subscription id")
        return self._sockets[ws].subs.pop(params[0], None) is not None

    def on_event(self, event: Event) -> None:
        """Polling filters take the event at once; WebSocket notifications are queued (never waiting for a client)."""
        if isinstance(event, PendingTransaction):
            self.api.filters.on_pending(event.tx_hash)
            self.publish_pending(event.tx_hash)
        elif isinstance(event, NewHead):
            self.api.filters.on_block(event.hash)
            self.api.on_head()
            task = asyncio.get_running_loop().create_task(self._publish_block(event.number, event.hash))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish_block(self, number: int, block_hash: bytes) -> None:
        try:
            await self.publish_block(number, block_hash)
        except Exception:
            log.exception("publishing block %s failed", number)

    async def publish_block(self, number: int, block_hash: bytes) -> None:
        """Queue ``newHeads`` and ``logs`` notifications for a new canonical block (never waits for a client)."""
        wanted = [
            (conn, sid, kind, c) for conn in self._sockets.values() for sid, (kind, c) in conn.subs.items()
        ]
        if not wanted:
            return
        chain = self.node.chain

        def collect() -> tuple[Any, list[Any]]:
            header = chain.header_by_hash(block_hash)
            head_json = fmt.header(header)
            logs = [x for r in chain.block_receipts(header) for x in r.logs] if header.bloom else []
            return head_json, logs

        head_json, logs = await self.node.on_chain(collect)
        head_text = _dumps(head_json)
        for conn, sid, kind, criteria in wanted:
            if kind == "newHeads":
                conn.offer(_notification(sid, head_text))
            elif kind == "logs" and criteria is not None:
                for entry in logs:
                    if criteria.addresses and entry.address not in criteria.addresses:
                        continue
                    if not all(
                        not alts or (pos < len(entry.topics) and entry.topics[pos] in alts)
                        for pos, alts in enumerate(criteria.topics)
                    ):
                        continue
                    conn.offer(_notification(sid, _dumps(fmt.log(entry))))

    def publish_pending(self, tx_hash: bytes) -> None:
        text = _dumps(fmt.d(tx_hash))
        for conn in list(self._sockets.values()):
            for sid, (kind, _c) in list(conn.subs.items()):
                if kind == "newPendingTransactions":
                    conn.offer(_notification(sid, text))


def _notification(sid: str, result_json: str) -> str:
    return (
        '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"'
        + sid
        + '","result":'
        + result_json
        + "}}"
    )


Handler = Callable[[list[Any]], Awaitable[Any]]
