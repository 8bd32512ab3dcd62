"""`pamchain audit verify` names the first bad block when a node serves a tampered chain.

A tiny JSON-RPC proxy in front of the live node rewrites one block (or its receipts) on the way out, as a
dishonest or corrupted node would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from pamchain.sdk.chain.chain_check import header_hash

from .conftest import Live, invoke

Tamper = Callable[[str, list[Any], Any], Any]


@contextmanager
def tampering_proxy(upstream: str, tamper: Tamper) -> Iterator[str]:
    session = requests.Session()
    session.trust_env = False

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = session.post(upstream, json=body, timeout=10).json()
            if "result" in answer:
                answer["result"] = tamper(body["method"], body.get("params", []), answer["result"])
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _is_block(method: str, params: list[Any], number: int) -> bool:
    return method == "eth_getBlockByNumber" and params and int(params[0], 16) == number


def test_verify__altered_header_field_is_named(live: Live) -> None:
    def tamper(method: str, params: list[Any], result: Any) -> Any:
        if _is_block(method, params, 3):
            result["timestamp"] = hex(int(result["timestamp"], 16) + 3600)
        return result

    with tampering_proxy(live.url, tamper) as url:
        result = invoke(["audit", "verify", "--rpc-url", url])
    assert result.exit_code == 1
    assert result.stdout.startswith("BAD: block 3 (")
    assert "header does not hash to the block hash" in result.stdout


def test_verify__rehashed_header_breaks_the_seal_and_the_link(live: Live) -> None:
    """A forger who also recomputes the hash cannot re-seal: the seal no longer recovers to a signer."""

    def tamper(method: str, params: list[Any], result: Any) -> Any:
        if _is_block(method, params, 2):
            result["gasLimit"] = hex(int(result["gasLimit"], 16) - 1)
            result["hash"] = "0x" + header_hash(result).hex()
        return result

    with tampering_proxy(live.url, tamper) as url:
        verdict = json.loads(invoke(["audit", "verify", "--rpc-url", url, "--json"]).stdout)
    assert verdict["ok"] is False and verdict["bad_block"]["number"] == 2
    assert "unauthorized signer" in verdict["bad_block"]["reason"]


def test_verify__altered_receipt_is_named(live: Live) -> None:
    target = (
        json.loads(live.deployment_file.read_text())["contracts"]["PamChain"]["block"] + 1
    )  # has transactions

    def tamper(method: str, params: list[Any], result: Any) -> Any:
        if method == "eth_getBlockReceipts" and int(params[0], 16) == target and result:
            result[0]["status"] = "0x0"
        return result

    with tampering_proxy(live.url, tamper) as url:
        result = invoke(["audit", "verify", "--rpc-url", url])
    assert result.exit_code == 1
    assert f"BAD: block {target} (" in result.stdout and "receipts root does not match" in result.stdout


def test_verify__wrong_genesis_anchor(live: Live) -> None:
    result = invoke(["audit", "verify", "--rpc-url", live.url, "--genesis-hash", "0x" + "00" * 32])
    assert result.exit_code == 1 and "genesis is not the expected" in result.stdout
