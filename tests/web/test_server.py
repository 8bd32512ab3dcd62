"""`pamchain web` without a browser: config, the relay's limits, breached ranges, and the bundled ABI."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests
from pamchain.sdk.chain.client import suite_artifacts
from pamchain.web.server import RELAYED_METHODS, start_web, static_dir

from .conftest import GROUP_DN, Stack

ABI = static_dir().parent / "src" / "abi.json"


def _post(stack: Stack, body: object) -> requests.Response:
    return requests.post(
        stack.web.url + "rpc", data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10
    )


def test_config__describes_the_deployment_and_relay_paths(stack: Stack) -> None:
    config = requests.get(stack.web.url + "config.json", timeout=10).json()
    assert config["chain_id"] == 1337
    assert config["contract"] == stack.deployment.address
    assert stack.deployment.reviews is not None and config["reviews"] == stack.deployment.reviews
    assert config["deployment_block"] == stack.deployment.block
    assert config["rpc_path"] == "rpc" and config["payload_path"] == "payloads"
    assert GROUP_DN in config["groups"].values()


def test_index__served_with_a_strict_csp_and_no_external_origin(stack: Stack) -> None:
    response = requests.get(stack.web.url, timeout=10)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp
    for asset in (static_dir() / "assets").iterdir():
        text = asset.read_text(encoding="utf-8", errors="replace")
        assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text and "unpkg.com" not in text


def test_relay__forwards_reads_unchanged(stack: Stack) -> None:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []}
    direct = requests.post(stack.node.url, json=body, timeout=10).json()
    assert _post(stack, body).json() == direct == {"jsonrpc": "2.0", "id": 7, "result": hex(1337)}


def test_relay__refuses_methods_a_phone_does_not_need(stack: Stack) -> None:
    for method in ("admin_addPeer", "debug_traceTransaction", "eth_sendTransaction", "personal_sign"):
        assert method not in RELAYED_METHODS
        response = _post(stack, {"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
        assert response.status_code == 403
        assert "not relayed" in response.json()["error"]["message"]
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "admin_peers"},
    ]
    assert _post(stack, batch).status_code == 403


def test_payload_relay__checks_the_hash_shape(stack: Stack) -> None:
    response = requests.put(
        stack.web.url + "payloads/v1/payloads/0x1234",
        data=b"x",
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 400


def test_payload_relay__forwards_the_store_info_and_every_signature_header(stack: Stack) -> None:
    from pamchain.sdk.chain.transactions import wait_until
    from pamchain.sdk.payloads.store import PayloadClient, PayloadStoreError

    device = stack.sdk_device("relay-tester").account
    assert device is not None
    through_relay = PayloadClient(stack.web.url + "payloads")
    assert through_relay.info().chain_id == 1337
    body = b"sealed through the relay" * 4

    def put() -> bytes | None:
        try:
            return through_relay.put(device, body)
        except PayloadStoreError as exc:  # a new device is known once the store re-reads its signer set
            assert exc.status == 403 and "unknown signer" in str(exc)
            return None

    digest = wait_until(put, timeout=30, interval=0.5)
    headers = through_relay.signed_headers(device, "put", digest)
    url = stack.web.url + f"payloads/v1/payloads/0x{digest.hex()}"
    assert requests.put(url, data=body, headers=headers, timeout=10).status_code == 200  # already stored
    replayed = requests.put(url, data=body, headers=headers, timeout=10)
    assert replayed.status_code == 401 and "replayed" in replayed.text


def test_breached_range__k_anonymity(stack: Stack) -> None:
    digest = hashlib.sha256(b"password123!").hexdigest()
    suffixes = requests.get(stack.web.url + f"api/breached-range/{digest[:5]}", timeout=10).json()
    assert digest[5:] in suffixes
    assert requests.get(stack.web.url + "api/breached-range/password", timeout=10).status_code == 400


def test_bundled_abi__matches_the_compiled_suite() -> None:
    assert json.loads(ABI.read_text()) == suite_artifacts()["abi"]
    assert json.loads((ABI.parent / "reviews_abi.json").read_text()) == suite_artifacts("PamReviews")["abi"]


# --- hostile pages and DNS rebinding (issue 13 item 8) -----------------------------------------------------

CHAIN_ID = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}


def _assert_security_headers(response: requests.Response) -> None:
    assert "default-src 'none'" in response.headers["Content-Security-Policy"], response.status_code
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_rebinding__unknown_host_name__refused_everywhere(stack: Stack) -> None:
    for method, path in (("GET", "config.json"), ("GET", ""), ("POST", "rpc"), ("GET", "payloads/v1/info")):
        response = requests.request(
            method,
            stack.web.url + path,
            headers={"Host": "attacker.example:8600", "Content-Type": "application/json"},
            data=json.dumps(CHAIN_ID),
            timeout=10,
        )
        assert response.status_code == 421, (path, response.status_code)
        assert "people" not in response.text
        _assert_security_headers(response)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_relay__cross_site_simple_request__refused(stack: Stack, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(stack.web.url + "rpc", data=json.dumps(CHAIN_ID), headers=headers, timeout=10)
    assert response.status_code == 415
    _assert_security_headers(response)


def test_relay__foreign_origin__refused_even_with_json(stack: Stack) -> None:
    for origin in ("http://evil.example", "http://localhost.evil.example", "null"):
        response = requests.post(
            stack.web.url + "rpc",
            data=json.dumps(CHAIN_ID),
            headers={"Content-Type": "application/json", "Origin": origin},
            timeout=10,
        )
        assert response.status_code == 403, origin
    site = requests.post(
        stack.web.url + "rpc",
        data=json.dumps(CHAIN_ID),
        headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        timeout=10,
    )
    assert site.status_code == 403
    own = stack.web.url.rstrip("/")
    same = requests.post(
        stack.web.url + "rpc",
        data=json.dumps(CHAIN_ID),
        headers={"Content-Type": "application/json", "Origin": own, "Sec-Fetch-Site": "same-origin"},
        timeout=10,
    )
    assert same.status_code == 200 and same.json()["result"] == hex(1337)


def test_payload_relay__needs_a_byte_payload(stack: Stack) -> None:
    response = requests.put(
        stack.web.url + "payloads/v1/payloads/0x" + "ab" * 32,
        data=b"x",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 415


def test_error_responses__carry_the_security_headers(stack: Stack) -> None:
    for response in (
        requests.get(stack.web.url + "no-such-page", timeout=10),
        requests.get(stack.web.url + "api/breached-range/password", timeout=10),
        requests.post(
            stack.web.url + "rpc", data="{", headers={"Content-Type": "application/json"}, timeout=10
        ),
    ):
        assert response.status_code >= 400
        _assert_security_headers(response)


def test_demo_enrol__same_origin_json_only(stack: Stack) -> None:
    enrolled: list[str] = []
    web = start_web(
        rpc_url=stack.node.url, deployment=stack.deployment, demo_enrol=enrolled.append, demo_label="x"
    )
    try:
        body = json.dumps({"address": "0x" + "11" * 20})
        url = web.url + "api/demo-enrol"
        assert (
            requests.post(url, data=body, headers={"Content-Type": "text/plain"}, timeout=10).status_code
            == 415
        )
        cross = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "Origin": "http://evil.example"},
            timeout=10,
        )
        assert cross.status_code == 403 and enrolled == []
        ok = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "Origin": web.url.rstrip("/")},
            timeout=10,
        )
        assert ok.status_code == 200 and enrolled == ["0x" + "11" * 20]
    finally:
        web.stop()


def test_allowed_host__public_name_behind_a_proxy_accepted(stack: Stack) -> None:
    web = start_web(rpc_url=stack.node.url, deployment=stack.deployment, allowed_hosts=("pam.corp.example",))
    try:
        response = requests.post(
            web.url + "rpc",
            data=json.dumps(CHAIN_ID),
            headers={
                "Host": "pam.corp.example",
                "Origin": "https://pam.corp.example",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["result"] == hex(1337)
    finally:
        web.stop()
