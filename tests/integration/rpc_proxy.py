"""A pamchain node in its own process, and a JSON-RPC proxy in front of it that can rewrite answers.

The proxy stands for whoever controls the oracle's endpoint or the path to it: every request goes to the
real node, and ``tamper(method, params, result)`` may replace what comes back.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.node.genesis import deployment_genesis

from support.chains import test_accounts
from support.node_process import init_node
from support.node_process import node_process as node_process_of

Tamper = Callable[[str, list[Any], Any], Any]
CHAIN_ID = 4344
PASSWORD = "light client test"


@dataclass
class NodeProcess:
    url: str
    accounts: dict[str, LocalAccount]
    signer: LocalAccount
    genesis: dict[str, Any]
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def node_process(tmp: Path, *, epoch: int = 30_000) -> Iterator[NodeProcess]:
    """``python -m pamchain.node run`` sealing on demand (one validator), stopped by its pid."""
    accounts = test_accounts()
    signer = Account.from_key(keccak(text="pamchain-light-client-signer"))
    genesis = deployment_genesis(
        [signer.address],
        CHAIN_ID,
        {a.address: 10**24 for a in accounts.values()},
        accounts["deployer"].address,
        epoch=epoch,
    )
    files = init_node(tmp, genesis, bytes(signer.key), password=PASSWORD)
    with node_process_of(files, ["--seal-on-demand"], log=tmp / "node.log") as (url, proc):
        yield NodeProcess(url, accounts, signer, genesis, proc)


@dataclass
class RpcProxy:
    """Forwards JSON-RPC (single and batch) to ``upstream``; ``tamper`` may rewrite each result."""

    upstream: str
    tamper: Tamper | None = None
    seen: list[tuple[str, list[Any]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def forward(self, body: Any) -> Any:
        session = requests.Session()
        session.trust_env = False
        answer = session.post(self.upstream, json=body, timeout=30).json()
        calls = body if isinstance(body, list) else [body]
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for call in calls:
            method, params = call.get("method", ""), call.get("params", [])
            self.seen.append((method, params))
            reply = by_id.get(call.get("id"))
            if self.tamper is not None and reply is not None and "result" in reply:
                reply["result"] = self.tamper(method, params, reply["result"])
        return answer

    def start(self) -> RpcProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                reply = json.dumps(proxy.forward(json.loads(self.rfile.read(length)))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextlib.contextmanager
def rpc_proxy(upstream: str, tamper: Tamper | None = None) -> Iterator[RpcProxy]:
    proxy = RpcProxy(upstream, tamper).start()
    try:
        yield proxy
    finally:
        proxy.stop()
