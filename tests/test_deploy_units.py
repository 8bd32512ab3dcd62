"""The shipped systemd units run every service unprivileged and hardened, and systemd accepts them."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
REQUIRED = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


def _service(unit: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return dict(parser["Service"])


def test_every_service_has_a_unit() -> None:
    names = {unit.stem for unit in UNITS}
    assert {
        "pamchain-node",
        "pamchain-oracle",
        "pamchain-payload-store",
        "pamchain-web",
        "pamchain-backup",
    } <= names


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit__dedicated_user_and_hardening(unit: Path) -> None:
    service = _service(unit)
    assert service.get("User", "root") not in ("root", "0"), "a dedicated, unprivileged user"
    for key, value in REQUIRED.items():
        assert service.get(key) == value, f"{unit.name}: {key}={service.get(key)!r}, want {value!r}"
    assert "AF_PACKET" not in service.get("RestrictAddressFamilies", "AF_PACKET")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not on this machine")
@pytest.mark.parametrize("unit", [*UNITS, *DEPLOY.glob("*.timer")], ids=lambda u: u.name)
def test_unit__systemd_analyze_verify(unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/pamchain is where the docs install it
    ]
    assert problems == [], problems


def _metric_names() -> set[str]:
    """Every metric a node or an oracle exports, from the code itself."""
    from pamchain.node.metrics import NodeMetrics

    node = NodeMetrics({k: (lambda: 0.0) for k in ("head", "finalized", "peers", "pool", "head_age")})
    names = {metric.name for metric in node.registry.collect()}
    names |= {f"{n}_{suffix}" for n in names for suffix in ("bucket", "count", "sum", "total")}
    oracle_status = (DEPLOY.parents[1] / "sdk" / "oracle" / "daemon.py").read_text()
    names |= {f"pamchain_oracle_{key}" for key in re.findall(r'^\s+"(\w+)":', oracle_status, re.M)}
    return names | {"up"}


def test_alert_rules_and_dashboard__name_only_metrics_that_exist() -> None:
    import yaml

    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    known = _metric_names()
    used = {name for expr in expressions for name in re.findall(r"\b(pamchain_\w+|up)\b", expr)}
    assert used and used <= known, used - known
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "PamchainRemovalLate",
        "PamchainOracleBehind",
        "PamchainValidatorDown",
        "PamchainChainNotSealing",
    } <= alerts
