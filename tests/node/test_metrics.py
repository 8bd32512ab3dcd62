"""GET /metrics: Prometheus text with the head, finality, pool, sealing time, RPC latency and errors."""

from __future__ import annotations

import requests
from eth_account.signers.local import LocalAccount
from pamchain.node import make_genesis, run_node
from prometheus_client.parser import text_string_to_metric_families


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _rpc(url: str, method: str, *params: object) -> dict[str, object]:
    return requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    ).json()


def test_metrics__off_by_default(signer: LocalAccount) -> None:
    with run_node(make_genesis([signer.address], 31337, {}), signer.key) as node:
        assert requests.get(node.url + "/metrics", timeout=10).status_code == 404  # only the RPC lives here


def test_metrics__head_seal_rpc_latency_and_errors(signer: LocalAccount) -> None:
    with run_node(make_genesis([signer.address], 31337, {}), signer.key, enable_metrics=True) as node:
        node.seal()
        _rpc(node.url, "eth_blockNumber")
        _rpc(node.url, "eth_getBalance", "0x12")  # invalid params: -32602
        _rpc(node.url, "no_such_method")  # -32601, counted under "other"
        _rpc(node.url, "x" * 200)  # arbitrary names never become labels
        samples = _samples(node.url)
    assert samples[("pamchain_node_head_block", ())] >= 1
    assert samples[("pamchain_node_finalized_block", ())] >= 1
    assert samples[("pamchain_node_txpool_transactions", ())] == 0
    assert samples[("pamchain_node_peers", ())] == 0
    assert samples[("pamchain_node_seal_seconds_count", ())] >= 1
    assert samples[("pamchain_node_rpc_request_seconds_count", (("method", "eth_blockNumber"),))] == 1
    assert samples[("pamchain_node_rpc_request_seconds_count", (("method", "other"),))] == 2
    assert samples[("pamchain_node_rpc_errors_total", (("code", "-32602"),))] == 1
    assert samples[("pamchain_node_rpc_errors_total", (("code", "-32601"),))] == 2
    methods = {
        dict(labels).get("method") for name, labels in samples if name.startswith("pamchain_node_rpc_request")
    }
    assert "x" * 200 not in methods and "no_such_method" not in methods


def test_node_process__json_logs_and_metrics_flag(tmp_path, signer: LocalAccount) -> None:
    import json

    from .node_process import node_process

    with node_process(tmp_path, signer, [], extra_args=("--log-format", "json", "--metrics", "-v")) as node:
        samples = _samples(node.url)
        assert samples[("pamchain_node_head_block", ())] >= 1
        lines = [line for line in node.log.read_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert entries and all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    assert any(e["logger"].startswith("pamchain.node") for e in entries)
