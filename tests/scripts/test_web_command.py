"""`pamchain web` session options: passed to the phone in /config.json, refused when not a positive time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from pamchain.sdk.chain.client import Deployment, abi_version

from support.rpc import free_port

from .conftest import invoke


def test_web__session_options__served_in_config(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    Deployment(chain_id=1337, address="0x" + "11" * 20, block=1, abi_version=abi_version()).save(deployment)
    port = free_port()
    args = ["web", "--deployment", str(deployment), "--port", str(port), "--session-idle", "900"]
    args += ["--session-hidden", "20", "--recent-auth", "45"]
    process = subprocess.Popen(
        [sys.executable, "-m", "pamchain.scripts.cli", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "pamchain web: http://127.0.0.1:PORT/ ..." once it listens
        assert f"127.0.0.1:{port}" in line, line
        config = requests.get(f"http://127.0.0.1:{port}/config.json", timeout=10).json()
        assert config["session"] == {"idle_s": 900, "hidden_s": 20, "recent_auth_s": 45}
    finally:
        process.terminate()
        process.wait(30)


def test_web__session_time_zero__refused() -> None:
    for option in ("--session-idle", "--session-hidden", "--recent-auth"):
        result = invoke(["web", option, "0"])
        assert result.exit_code == 2 and "0 is not in the range x>=1" in result.output, result.output
