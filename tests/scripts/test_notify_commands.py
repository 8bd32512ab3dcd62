"""``pamchain notify``: a bad configuration or an absent node is one line on stderr, never a traceback."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pamchain.sdk.chain.client import Deployment, abi_version
from pamchain.sdk.chain.transactions import wait_until
from pamchain.sdk.oracle.health import HealthServer

from support.rpc import free_port

from ..sdk.notify_parts import Hook, WebhookReceiver
from .conftest import GROUP_ID, Live, invoke

HOOK_SECRET = b"team-webhook-secret-for-the-cli-test"


@pytest.fixture(autouse=True)
def _keep_log_handlers() -> Iterator[None]:
    """``notify run`` points pamchain's logs at the (captured) stderr; put them back afterwards."""
    root = logging.getLogger("pamchain")
    saved = (root.handlers[:], root.level, root.propagate)
    yield
    root.handlers[:], root.level, root.propagate = saved


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notify.toml"
    path.write_text(text)
    return path


def run(path: Path) -> tuple[int, str]:
    result = invoke(["notify", "run", "--config", str(path)])
    return result.exit_code, result.stderr


def test_run__missing_config_file__one_line(tmp_path: Path) -> None:
    code, err = run(tmp_path / "absent.toml")
    assert code == 1
    assert err.strip().startswith("error: cannot read notifier configuration") and err.count("\n") == 1


def test_run__invalid_toml__one_line(tmp_path: Path) -> None:
    code, err = run(write_config(tmp_path, "[chain\nrpc_url = 1\n"))
    assert code == 1 and "is not valid TOML" in err and err.count("\n") == 1


def test_run__credentials_without_tls__refused_one_line(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[chain]
rpc_url = "http://127.0.0.1:8545"
deployment = "deployment.json"

[smtp]
host = "127.0.0.1"
sender = "pamchain@corp.example"
tls = "none"
username = "relay"
password_file = "smtp.password"
""",
    )
    code, err = run(path)
    assert code == 1
    assert (
        err.strip() == "error: smtp: credentials are never sent without TLS (set tls = starttls or implicit)"
    )


def test_run__missing_deployment_file__one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[chain]\nrpc_url = "http://127.0.0.1:1"\ndeployment = "nope.json"\n')
    code, err = run(path)
    assert (
        code == 1
        and "cannot read deployment file" in err
        and "No such file" in err
        and "Traceback" not in err
    )


def test_run__node_unreachable__one_line(tmp_path: Path) -> None:
    version = abi_version()  # the right ABI: the node is the next thing checked
    Deployment(1, "0x" + "11" * 20, 1, version).save(tmp_path / "deployment.json")
    path = write_config(
        tmp_path, f'[chain]\nrpc_url = "http://127.0.0.1:{free_port()}"\ndeployment = "deployment.json"\n'
    )
    code, err = run(path)
    assert code == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "127.0.0.1" in err


def test_status__nothing_listening__one_line() -> None:
    result = invoke(["notify", "status", "--url", f"http://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: no notifier answers at")


@pytest.mark.parametrize(("healthy", "code"), [(True, 0), (False, 1)])
def test_status__prints_the_snapshot__exit_code_follows_health(healthy: bool, code: int) -> None:
    snapshot = {"healthy": healthy, "pending_notifications": 2, "failed_notifications": 0}
    server = HealthServer(lambda: snapshot, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        table = invoke(["notify", "status", "--url", url])
        raw = invoke(["notify", "status", "--url", url, "--json"])
    finally:
        server.stop()
    assert table.exit_code == code and "pending_notifications: 2" in table.stdout
    assert raw.exit_code == code and json.loads(raw.stdout) == snapshot


def test_oracle_status__shares_the_helper() -> None:
    server = HealthServer(lambda: {"healthy": True, "oldest_pending_seconds": 0.0}, "127.0.0.1", 0).start()
    try:
        result = invoke(["oracle", "status", "--url", f"http://127.0.0.1:{server.port}"])
    finally:
        server.stop()
    assert result.exit_code == 0
    assert result.stdout == f"{'healthy':>22}: True\noldest_pending_seconds: 0.0\n"  # as before the move
    missing = invoke(["oracle", "status", "--url", f"http://127.0.0.1:{free_port()}"])
    assert missing.exit_code == 1 and "no oracle answers at" in missing.stderr


def test_run__real_node__approvers_get_signed_webhooks__first_sigterm_drains(
    live: Live, tmp_path: Path
) -> None:
    """``pamchain notify run`` as its own process against the node process: a new request reaches both
    approvers (not the requester) as verified webhooks; SIGTERM stops it cleanly; the logs hold no secret."""
    with WebhookReceiver(HOOK_SECRET) as receiver:
        (tmp_path / "hook.secret").write_bytes(HOOK_SECRET)
        recipients = "\n".join(
            f'[recipients."0x{live.ids[name].hex()}"]\nwebhook = "team"\n'
            for name in ("alice", "bob", "carol")
        )
        config = write_config(
            tmp_path,
            f"""
[chain]
rpc_url = "{live.url}"
deployment = "{live.deployment_file}"
poll_interval = 0.1

[notify]
journal = "notify.sqlite3"
start = "deployment"  # the request below may be final before the process has started
retry_base = 0.2
retry_cap = 1.0

[webhooks.team]
url = "{receiver.url}"
secret_file = "hook.secret"

{recipients}
""",
        )
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "pamchain"), "notify", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            alice = live.client().as_account(live.accounts["alice"])
            rid = alice.request_elevation(GROUP_ID, 600)

            def told() -> dict[str, Hook] | None:
                mine = {
                    h.document["recipient"]: h
                    for h in receiver.accepted()
                    if h.document.get("request_id") == rid and h.document["kind"] == "approval_needed"
                }
                return mine if len(mine) >= 2 else None

            hooks = wait_until(told, 120)
            assert set(hooks) == {"0x" + live.ids["bob"].hex(), "0x" + live.ids["carol"].hex()}
            assert all(h.verified for h in receiver.hooks)
            assert hooks["0x" + live.ids["bob"].hex()].document["target"] == "0x" + GROUP_ID.hex()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert entries[-1]["msg"] == "notifier stopped"
    assert HOOK_SECRET.decode() not in stderr
