"""The notifier's configuration: what it accepts, and one clear error for each thing it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.notify.config import NotifyConfig
from pamchain.sdk.notify.webhook import signature

ALICE = "0x" + "AB" * 32


def minimal(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "hook.secret").write_bytes(b"s" * 32)
    return {
        "chain": {"rpc_url": "http://127.0.0.1:8545", "deployment": "deployment.json"},
        "notify": {"security_officers": ["soc"]},
        "smtp": {"host": "smtp.corp.example", "sender": "pamchain@corp.example"},
        "webhooks": {"soc": {"url": "https://soc.corp.example/hook", "secret_file": "hook.secret"}},
        "recipients": {ALICE: {"email": "alice@corp.example"}, "soc": {"webhook": "soc"}},
    }


def test_minimal__defaults_and_keys_normalised(tmp_path: Path) -> None:
    config = NotifyConfig.from_dict(minimal(tmp_path), base=tmp_path)
    assert config.journal == (tmp_path / "notify-journal.sqlite3").resolve()
    assert ALICE.lower() in config.recipients  # directory ids match however they were typed
    assert config.smtp is not None and (config.smtp.port, config.smtp.tls) == (587, "starttls")
    assert config.webhooks["soc"].secret == b"s" * 32 and "secret" not in repr(config.webhooks["soc"])
    assert config.security_officers == ("soc",) and config.start == "head"


def test_signature__is_over_timestamp_and_body() -> None:
    one = signature(b"k" * 16, "1700000000", b"{}")
    assert one.startswith("v1=") and len(one) == 3 + 64
    assert one != signature(b"k" * 16, "1700000001", b"{}") != signature(b"k" * 16, "1700000000", b"[]")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["chain"].pop("rpc_url"), "missing chain.rpc_url"),
        (
            lambda d: d.update(smtp={**d["smtp"], "tls": "none", "username": "u", "password_file": "p"}),
            "never sent without TLS",
        ),
        (lambda d: d.update(smtp={**d["smtp"], "tls": "none"}), "loopback relay only"),
        (lambda d: d.update(smtp={**d["smtp"], "tls": "ssl3"}), "smtp.tls must be one of"),
        (lambda d: d.update(smtp={**d["smtp"], "username": "u"}), "username and password_file go together"),
        (lambda d: d.update(smtp={**d["smtp"], "ca_file": "missing.pem"}), "does not exist"),
        (lambda d: d.update(smtp={**d["smtp"], "sender": "not an address"}), "smtp.sender is not"),
        (lambda d: d.pop("smtp"), "no [smtp] table"),
        (lambda d: d["webhooks"]["soc"].update(url="http://soc.corp.example/hook"), "loopback only"),
        (lambda d: d["webhooks"]["soc"].update(url="ftp://x/y"), "http(s) URL"),
        (lambda d: d["webhooks"]["soc"].update(secret_file="nope"), "cannot read webhooks.soc.secret_file"),
        (lambda d: d["webhooks"]["soc"].update(timeout=0), "must be positive"),
        (lambda d: d["recipients"]["soc"].update(webhook="pager"), "names no [webhooks.pager]"),
        (lambda d: d["recipients"][ALICE].update(email="alice"), "is not an e-mail address"),
        (lambda d: d["recipients"][ALICE].update(phone="+1 555"), "unknown keys"),
        (lambda d: d["recipients"].update({"0x1234": {"email": "x@corp.example"}}), "expected 32 bytes"),
        (lambda d: d["recipients"].update(bob={}), "neither email nor webhook"),
        (lambda d: d["notify"].update(security_officers=["nobody"]), "not in [recipients]"),
        (lambda d: d["notify"].update(retry_cap="soon"), "bad notifier configuration"),
        (lambda d: d.update(recipients=["alice"]), "[recipients] must be a table"),
        (lambda d: d.update(targets={"Domain Admins": "0x00"}), "not a hex bytes32"),
        (lambda d: d["notify"].update(start="tail"), "notify.start must be"),
        (lambda d: d["notify"].update(start=-1), "notify.start must be"),
    ],
)
def test_bad_configuration__one_clear_error(tmp_path: Path, change: Any, message: str) -> None:
    data = minimal(tmp_path)
    change(data)
    with pytest.raises(ConfigError) as raised:
        NotifyConfig.from_dict(data, base=tmp_path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_secret_too_short__refused(tmp_path: Path) -> None:
    data = minimal(tmp_path)
    (tmp_path / "hook.secret").write_bytes(b"short\n")
    with pytest.raises(ConfigError, match="fewer than 16 bytes"):
        NotifyConfig.from_dict(data, base=tmp_path)


def test_load__missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read notifier configuration"):
        NotifyConfig.load(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[chain\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        NotifyConfig.load(tmp_path / "bad.toml")


def test_shipped_sample__parses(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "notify.toml"
    (tmp_path / "notify.toml").write_text(sample.read_text())
    for name in ("soc-webhook.secret", "chatops-webhook.secret"):
        (tmp_path / name).write_text("0123456789abcdef0123456789abcdef\n")
    (tmp_path / "corp-root-ca.pem").write_text("placeholder\n")
    config = NotifyConfig.load(tmp_path / "notify.toml")
    assert config.security_officers == ("soc",) and set(config.webhooks) == {"soc", "chatops"}
    assert config.smtp is not None and config.smtp.tls == "starttls" and config.health_port == 9465
    assert list(config.targets.values()) == ["Domain Admins"]
