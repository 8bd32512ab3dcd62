"""``pamchain payload-store run`` as an operator runs it (a real process on the live chain), its configuration
errors, and the payload store's refusals as the requester's command line shows them."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from eth_utils import keccak
from pamchain.sdk.payloads.store import (
    ChainAuthorizer,
    PayloadClient,
    PayloadStore,
    PayloadStoreError,
    Quota,
    ServedStore,
)

from support.rpc import free_port

from .conftest import Live, invoke


def _env() -> dict[str, str]:
    """The machine's environment without pamchain's variables, so only the test's settings count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAMCHAIN_")}


class StoreProcess:
    """``pamchain payload-store run ARGS`` in a child process; its URL from the line it prints when ready."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pamchain.scripts.cli", "payload-store", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def url(self, timeout: float = 120) -> str:
        line = self._lines.get(timeout=timeout)
        assert line.startswith("payload store listening on "), (line, self.stop())
        return line.rsplit(" ", 1)[1].strip()

    def stop(self) -> tuple[int, str]:
        """SIGTERM (the first signal drains), then the exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate(timeout=10)
        return self.process.returncode, stderr


@pytest.fixture
def running() -> Iterator[list[StoreProcess]]:
    started: list[StoreProcess] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.communicate(timeout=10)


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_run__toml_config_with_tls__serves_then_drains_on_sigterm(
    live: Live, tmp_path: Path, running: list[StoreProcess]
) -> None:
    cert, _ = self_signed(tmp_path)
    config = tmp_path / "payload-store.toml"
    config.write_text(
        f'[chain]\nrpc_url = "{live.url}"\ndeployment = "{live.deployment_file}"\n\n'
        f'[store]\ndata_dir = "data"\nport = 0\nmax_payloads = 2\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'
    )
    store = StoreProcess(["--config", str(config)])
    running.append(store)
    url = store.url()
    assert url.startswith("https://127.0.0.1:")
    assert requests.get(f"{url}/healthz", verify=str(cert), timeout=10).json() == {"status": "ok"}
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{url}/healthz", timeout=10)  # not trusted without the operator's CA
    client = PayloadClient(url, verify=str(cert))
    digest = client.put(live.accounts["alice"], b"sealed by the test" * 8)
    assert (tmp_path / "data" / digest.hex()).exists()  # data_dir is relative to the file
    assert client.get(live.accounts["oracle"], digest) == b"sealed by the test" * 8
    code, stderr = store.stop()
    assert code == 0, stderr
    assert '"msg": "payload store stopped"' in stderr


def test_run__options_only__quota_from_the_command_line(
    live: Live, tmp_path: Path, running: list[StoreProcess]
) -> None:
    store = StoreProcess(
        [
            "--rpc-url", live.url, "--deployment", str(live.deployment_file), "--data-dir", str(tmp_path / "d"),
            "--port", "0", "--max-payloads", "1",
        ]
    )  # fmt: skip
    running.append(store)
    url = store.url()
    assert url.startswith("http://127.0.0.1:")
    client = PayloadClient(url)
    client.put(live.accounts["alice"], b"first" * 20)
    with pytest.raises(PayloadStoreError) as info:
        client.put(live.accounts["alice"], b"second" * 20)
    assert info.value.status == 429 and "1 payloads" in str(info.value)
    assert store.stop()[0] == 0


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (None, "cannot read payload store configuration"),
        ("[store]\nmax_payload = 3\n", "unknown payload store setting(s): store.max_payload"),
        ('[store]\ntls_cert = "c.pem"\n', "TLS needs both tls_cert and tls_key"),
        ("[store]\nmax_bytes = 0\n", "max_payloads and max_bytes must be at least 1"),
        ('[store]\nport = "eighty"\n', "bad payload store setting"),
        ("[store\n", "is not valid TOML"),
        ('[chain]\ndeployment = "absent.json"\n', "no deployment file at"),
        ("[store]\nrate = 0\n", "rate must be more than 0"),
    ],
)
def test_run__bad_configuration__one_line_error(tmp_path: Path, toml: str | None, expected: str) -> None:
    config = tmp_path / "store.toml"
    if toml is not None:
        config.write_text(toml)
    result = invoke(["payload-store", "run", "--config", str(config)], env={"PAMCHAIN_RPC_URL": ""})
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_run__no_node__one_line_error(live: Live, tmp_path: Path) -> None:
    port = free_port()
    result = invoke(
            [
                "payload-store", "run", "--rpc-url", f"http://127.0.0.1:{port}",
                "--deployment", str(live.deployment_file), "--data-dir", str(tmp_path / "d"),
            ]
        )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no node answers at http://127.0.0.1:{port}"


def test_run__bad_store_id__one_line_error(live: Live, tmp_path: Path) -> None:
    result = invoke(
        [
            "payload-store", "run", "--rpc-url", live.url, "--deployment", str(live.deployment_file),
            "--data-dir", str(tmp_path / "d"), "--store-id", "no spaces allowed",
        ]
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: store_id: 8 to 64 letters, digits, '.', '_' or '-'"


def test_run__port_taken__one_line_error(live: Live, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = invoke(
            [
                "payload-store", "run", "--rpc-url", live.url, "--deployment", str(live.deployment_file),
                "--data-dir", str(tmp_path / "d"), "--port", str(port),
            ]
        )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")


def test_request_password__store_quota_full__one_line_error_and_nothing_requested(
    live: Live, tmp_path: Path
) -> None:
    store = PayloadStore(
        tmp_path / "full",
        ChainAuthorizer(live.client(), start_block=0),
        quota=Quota(max_payloads=1, max_bytes=10_000),
        purge_interval=None,
    )
    with ServedStore(store) as served:
        PayloadClient(served.url).put(live.accounts["alice"], keccak(b"already there") * 4)
        new_password = tmp_path / "new-password"
        new_password.write_text("Quiet-Orange-Lantern-27\n")
        before = live.client().request_count()
        result = live.cli(
            "alice",
            "request",
            "password",
            "--new-password-file",
            str(new_password),
            "--payload-store",
            served.url,
        )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: payload store: 429 payload quota reached")
    assert "cancel a pending password request" in lines[0]
    assert "Traceback" not in result.output and "Quiet-Orange-Lantern-27" not in result.output
    assert live.client().request_count() == before


def test_sample_configuration__loads_with_the_documented_defaults() -> None:
    from pamchain.sdk.payloads.service import PayloadStoreConfig

    sample = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "payload-store.toml"
    config = PayloadStoreConfig.load(sample)
    default = PayloadStoreConfig()
    assert (config.port, config.quota, config.orphan_ttl, config.purge_interval) == (
        default.port,
        default.quota,
        default.orphan_ttl,
        default.purge_interval,
    )
    assert config.data_dir == Path("/var/lib/pamchain-payload-store") and config.tls_cert is None
