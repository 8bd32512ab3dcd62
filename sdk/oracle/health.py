"""The daemon's health and metrics endpoint, on loopback by default: ``/healthz`` (JSON) and ``/metrics``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HealthServer:
    """Serves a snapshot produced by ``status()``; 200 when healthy, 503 otherwise."""

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        prefix: str = "pamchain_oracle_",
    ) -> None:
        snapshot = status

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state = snapshot()
                if self.path == "/healthz":
                    body = json.dumps(state).encode()
                    self._reply(200 if state.get("healthy") else 503, "application/json", body)
                elif self.path == "/metrics":
                    lines = [
                        f"{prefix}{key} {float(value)}"
                        for key, value in state.items()
                        if isinstance(value, int | float | bool)
                    ]
                    self._reply(200, "text/plain; version=0.0.4", ("\n".join(lines) + "\n").encode())
                else:
                    self._reply(404, "text/plain", b"not found\n")

            def _reply(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # probes every few seconds would drown the structured log

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="oracle-health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
