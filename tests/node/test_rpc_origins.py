"""Browsers are clients too: the node's RPC takes JSON only, and browser origins only when configured, exactly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
import requests
from eth_account.signers.local import LocalAccount
from pamchain.node import make_genesis, run_node
from pamchain.node.service import NodeHandle

CHAIN_ID = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})


@pytest.fixture(scope="module")
def nodes(signer: LocalAccount) -> Iterator[Callable[[str | None], NodeHandle]]:
    started: dict[str | None, Any] = {}

    def get(cors: str | None) -> NodeHandle:
        if cors not in started:
            manager = run_node(make_genesis([signer.address], 31337, {}), signer.key, cors_origin=cors)
            started[cors] = (manager, manager.__enter__())
        return started[cors][1]

    yield get
    for manager, _handle in started.values():
        manager.__exit__(None, None, None)


def _post(url: str, headers: dict[str, str], body: str = CHAIN_ID) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_http__not_json__refused_before_dispatch(
    nodes: Callable[..., NodeHandle], content_type: str | None
) -> None:
    node = nodes(None)
    headers = {"Content-Type": content_type} if content_type else {}
    response = _post(node.url, headers, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "admin_peers"}))
    assert response.status_code == 415 and response.json()["error"]["code"] == -32600


def test_http__json__answered(nodes: Callable[..., NodeHandle]) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "application/json-rpc"):
        response = _post(nodes(None).url, {"Content-Type": content_type})
        assert response.status_code == 200 and response.json()["result"] == hex(31337)


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://localhost.evil.example", "http://127.0.0.1.evil", "null"]
)
def test_http__browser_origin_without_cors__refused(nodes: Callable[..., NodeHandle], origin: str) -> None:
    response = _post(nodes(None).url, {"Content-Type": "application/json", "Origin": origin})
    assert response.status_code == 403


def test_http__configured_origin_only__exact(nodes: Callable[..., NodeHandle]) -> None:
    node = nodes("https://ops.example")
    ok = _post(node.url, {"Content-Type": "application/json", "Origin": "https://ops.example"})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "https://ops.example"
    for origin in ("https://ops.example.evil", "https://evil.example", "http://ops.example"):
        assert _post(node.url, {"Content-Type": "application/json", "Origin": origin}).status_code == 403


def _ws_status(url: str, origin: str | None) -> int:
    async def attempt() -> int:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(url, headers=headers) as ws:
                    await ws.send_str(CHAIN_ID)
                    reply = await ws.receive(timeout=10)
                    assert json.loads(reply.data)["result"] == hex(31337)
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    return asyncio.run(attempt())


def test_websocket__origin_matched_exactly_even_with_cors(nodes: Callable[..., NodeHandle]) -> None:
    plain, cors = nodes(None), nodes("https://ops.example")
    assert _ws_status(plain.ws_url, None) == 101  # scripts and SDKs send no Origin
    assert _ws_status(plain.ws_url, "http://localhost.evil.example") == 403  # was a prefix match
    assert _ws_status(plain.ws_url, "http://127.0.0.1:1234") == 403  # any page on this host, too
    assert _ws_status(cors.ws_url, "https://ops.example") == 101
    assert _ws_status(cors.ws_url, "https://evil.example") == 403  # was not checked at all with --cors-origin
