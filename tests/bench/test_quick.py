"""Every benchmark in quick mode (tiny inputs): it runs, finishes and produces figures. Never asserts a speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|" in proc.stdout  # the table was printed
    return json.loads(out.read_text())


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_quick__p1_throughput__every_configuration_and_ratio(tmp_path: Path) -> None:
    from bench.node_throughput import PEERS, RPC_CONFIGS

    results = _bench(tmp_path, "--only", "p1")
    figures = results["p1"]["figures"]
    expected = {name for name, *_ in RPC_CONFIGS} | {"raw py-evm mine_all", "eth-tester web3 single"}
    assert set(figures) == expected
    for name, fig in figures.items():
        if fig["tx_per_s"] is None:  # a peer stopped by the watchdog is reported, not hidden
            assert not name.startswith("pamchain") and fig["failed_runs"], (name, fig)
            continue
        assert _positive(fig["tx_per_s"]["median"])
        assert fig["tx_per_s"]["min"] <= fig["tx_per_s"]["median"] <= fig["tx_per_s"]["max"]
    for name, peers in PEERS.items():
        measured = {p for p in peers if figures[p]["tx_per_s"] is not None}
        assert set(figures[name]["vs"]) == measured
        assert all(_positive(r["median"]) for r in figures[name]["vs"].values())
    assert _positive(figures["pamchain on-demand batch"]["rss_mib"]["median"])
    assert results["env"]["keccak_backend"] and results["env"]["ecc_backend"]


@pytest.mark.skipif(os.environ.get("PAMCHAIN_SKIP_SAMBA") == "1", reason="PAMCHAIN_SKIP_SAMBA=1: no Samba DC")
def test_quick__p2_p3_oracle_latency__on_a_real_dc(tmp_path: Path) -> None:
    p2 = _bench(tmp_path, "--only", "p2")["p2"]
    for backend in ("pamchain on-demand", "pamchain 1s-blocks", "anvil automine"):
        for metric in ("unlock_to_ad", "unlock_to_receipt", "expiry"):
            assert isinstance(p2[backend][metric]["p50_ms"], (int, float))  # expiry lag may be negative
            assert p2[backend][metric]["n"] >= 1
    assert "p50_vs_anvil" in p2["pamchain on-demand"]["unlock_to_receipt"]
    assert p2["pamchain node stopped"]["expiry_node_stopped"]["n"] == 1


def test_quick__p4_scale__figures(tmp_path: Path) -> None:
    p4 = _bench(tmp_path, "--only", "p4")["p4"]
    figures = p4["figures"]
    for key in (
        "one_principal_getLogs_ms_median",
        "log_catch_up_events_per_s",
        "node_restart_s",
        "disk_bytes_per_grant",
        "node_rss_mib_after_catch_up",
    ):
        assert _positive(figures[key]), key
    assert figures["log_catch_up_events"] == p4["grants"]
    assert figures["one_principal_grants_found"] >= 1
    assert any(k.startswith("node_rss_mib_at_") for k in figures)


def test_quick__cli__every_read_only_command_answers(tmp_path: Path) -> None:
    cli = _bench(tmp_path, "--only", "cli")["cli"]
    assert cli["runs"] == 2
    for label, by_who in cli["figures"].items():
        figure = by_who["this"]
        assert "failed" not in figure, (label, figure)
        assert _positive(figure["p50_ms"]) and figure["min_ms"] <= figure["p50_ms"] <= figure["p95_ms"]
        assert figure["p95_ms"] <= figure["max_ms"]


def test_quick__rpc_latency__every_call_on_both_backends(tmp_path: Path) -> None:
    out = tmp_path / "rpc.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.rpc_latency", "--calls", "2", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == {"pamchain on-demand", "anvil automine"}
    assert set(results["pamchain on-demand"]) == set(results["anvil automine"])
    assert "eth_estimateGas request_unlock" in results["anvil automine"]
    assert all(_positive(ms) for figures in results.values() for ms in figures.values())
    assert "| eth_call request_unlock |" in proc.stdout
