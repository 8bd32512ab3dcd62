"""Wakes the oracle the moment its node announces a new head: ``eth_subscribe("newHeads")`` over the node's
WebSocket, reconnected when it drops; without a WebSocket the daemon's poll interval is the only clock."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException
from websockets.proxy import get_proxy
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

log = logging.getLogger("pamchain.oracle.heads")

RECONNECT_FIRST = 0.1  # seconds before the first reconnection attempt; doubled per failure
RECONNECT_CAP = 5.0  # the longest wait between two attempts
OPEN_TIMEOUT = 5.0  # connection and subscription answer
_TROUBLE: tuple[type[BaseException], ...] = (OSError, TimeoutError, WebSocketException, ValueError)


def ws_url_for(rpc_url: str) -> str:
    """The WebSocket URL a node serves beside ``rpc_url`` (pamchain's node and anvil: the same port)."""
    parts = urlsplit(rpc_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"no WebSocket beside {rpc_url!r}")
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))


def _proxy_for(ws_url: str) -> str | None:
    """The proxy the environment names for ``ws_url``, read once: websockets reads it at every connection
    otherwise, iterating ``os.environ`` from this thread (see :mod:`pamchain.sdk.sessions`). An invalid URL
    has none; connecting to it fails and says why."""
    try:
        return get_proxy(parse_uri(ws_url))
    except InvalidURI:
        return None


class HeadWatch:
    """A thread holding one ``newHeads`` subscription; calls ``wake`` for every head and after every
    (re)connection (heads announced while it was down are caught up by the tick the wake starts)."""

    def __init__(self, ws_url: str, wake: Callable[[], None]) -> None:
        self.ws_url = ws_url
        self._proxy = _proxy_for(ws_url)
        self.wake = wake
        self.connected = threading.Event()
        self.heads = 0  # notifications received (health, tests)
        self.connections = 0  # successful subscriptions, reconnections included
        self._stop = threading.Event()
        self._socket: ClientConnection | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> HeadWatch:
        self._thread = threading.Thread(target=self._run, name="oracle-heads", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            socket = self._socket
        if socket is not None:
            socket.close()  # ends a blocking recv at once
        if self._thread is not None:
            self._thread.join(timeout=5)

    def health(self) -> dict[str, object]:
        return {"head_subscription": self.connected.is_set(), "head_notifications": self.heads}

    def _run(self) -> None:
        delay = RECONNECT_FIRST
        unsupported_logged = False
        while not self._stop.is_set():
            try:
                self._follow()
                delay = RECONNECT_FIRST  # it ran, then dropped: come back quickly
            except _TROUBLE as exc:
                if self._stop.is_set():
                    return
                if isinstance(exc, (InvalidURI, InvalidHandshake, SubscriptionRefused)):
                    if not unsupported_logged:  # an HTTP-only endpoint: polling, said once
                        log.info("no newHeads subscription: polling", extra={"reason": str(exc)[:200]})
                        unsupported_logged = True
                elif self.connections:
                    log.warning(
                        "newHeads subscription lost, reconnecting", extra={"error": type(exc).__name__}
                    )
            finally:
                self.connected.clear()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, RECONNECT_CAP)

    def _follow(self) -> None:
        with connect(
            self.ws_url, proxy=self._proxy, open_timeout=OPEN_TIMEOUT, close_timeout=1, max_size=2**20
        ) as socket:
            with self._lock:
                if self._stop.is_set():
                    return
                self._socket = socket
            try:
                socket.send(
                    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]})
                )
                answer = json.loads(socket.recv(timeout=OPEN_TIMEOUT))
                if not isinstance(answer, dict) or "result" not in answer:
                    raise SubscriptionRefused(
                        str(answer.get("error") if isinstance(answer, dict) else answer)
                    )
                self.connections += 1
                self.connected.set()
                self.wake()  # whatever happened while no subscription was held
                while not self._stop.is_set():
                    message = json.loads(socket.recv())
                    if isinstance(message, dict) and message.get("method") == "eth_subscription":
                        self.heads += 1
                        self.wake()
            finally:
                with self._lock:
                    self._socket = None


class SubscriptionRefused(WebSocketException):
    """The endpoint speaks WebSocket but refuses ``eth_subscribe("newHeads")``."""
