"""`pamchain devnet` as a person runs it: a process that starts everything, plays the scenario, serves
commands, and on Ctrl-C stops every part, leaving no process and no listening port behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from .devnet_process import PAMCHAIN, Lines


def _listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_devnet__scenario_commands_and_clean_ctrl_c(tmp_path: Path) -> None:
    datadir = tmp_path / "devnet"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAMCHAIN_")}
    process = subprocess.Popen(
        [
            PAMCHAIN,
            "devnet",
            "--datadir",
            str(datadir),
            "--port",
            "0",
            "--payload-port",
            "0",
            "--grant-seconds",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = Lines(process)
        output = lines.until("Ctrl-C stops everything", timeout=120)
        for line in (
            "locked in AD: False",
            "alice is a member: True",
            "alice is a member: False",
            "alice binds with her new password: yes",
            "ReceiptPosted(request_id=3, action=RESET_PASSWORD",
        ):
            assert line in output
        rpc_url = re.search(r"export PAMCHAIN_RPC_URL=(\S+)", output).group(1)  # type: ignore[union-attr]
        store_url = re.search(r"export PAMCHAIN_PAYLOAD_STORE=(\S+)", output).group(1)  # type: ignore[union-attr]
        assert _listening(rpc_url) and _listening(store_url)

        # The printed instructions work: alice asks for an unlock with the demo keys, the oracle applies it.
        cli_env = {
            **env,
            "PAMCHAIN_RPC_URL": rpc_url,
            "PAMCHAIN_DEPLOYMENT": str(datadir / "deployment.json"),
            "PAMCHAIN_PASSWORD": "devnet-demo-only",
        }
        unlock = subprocess.run(
            [
                PAMCHAIN,
                "request",
                "unlock",
                "--keystore",
                str(datadir / "keys" / "alice"),
                "--wait",
                "30",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=120,
        )
        assert unlock.returncode == 0, unlock.stderr
        assert json.loads(unlock.stdout)["status"] == "FULFILLED"
        verify = subprocess.run(
            [PAMCHAIN, "audit", "verify"], capture_output=True, text=True, env=cli_env, timeout=120
        )
        assert verify.returncode == 0 and verify.stdout.startswith("OK: "), verify.stdout + verify.stderr

        process.send_signal(signal.SIGINT)
        process.wait(60)
        rest = lines.rest(10)
        assert process.returncode == 0, rest
        assert "stopped; nothing left running." in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert not _alive(process.pid)
    assert not _listening(rpc_url) and not _listening(store_url)


def test_devnet__refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        from .conftest import invoke

        result = invoke(["devnet", "--datadir", str(tmp_path / "d"), "--port", str(port), "--scenario-only"])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("flag", ["--scenario-only", "--no-wait"])
def test_devnet__non_empty_datadir_refused(tmp_path: Path, flag: str) -> None:
    (tmp_path / "something").write_text("x")
    from .conftest import invoke

    result = invoke(["devnet", "--datadir", str(tmp_path), flag])
    assert result.exit_code == 1 and "is not empty" in result.stderr
