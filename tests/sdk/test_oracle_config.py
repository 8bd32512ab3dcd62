"""The oracle's configuration file: the sample parses, bad files give one clear error, the CLI reports them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pamchain.scripts.cli import main
from pamchain.sdk.chain.client import Deployment
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.oracle.assembly import anchor_for, build_directory
from pamchain.sdk.oracle.config import OracleConfig, bytes32_label
from pamchain.sdk.oracle.light_client import Anchor

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "oracle.toml"


def test_sample_config__parses_with_paths_resolved() -> None:
    config = OracleConfig.load(SAMPLE)
    assert config.rpc_url == "http://127.0.0.1:8545"
    assert config.domain == bytes32_label("corp.example") and config.dc_id.startswith(b"DC1\x00")
    assert config.keystore == (SAMPLE.parent / "oracle-keystore.json").resolve()
    assert (
        config.finality.confirmations is None and config.retry.max_attempts == 8 and config.late_after == 60
    )
    assert config.directory["kind"] == "ldap" and len(config.groups) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[chain]\nrpc_url = 'x'\n", "missing chain.deployment"),
        ("[chain\n", "not valid TOML"),
        ("chain = 3\n", "[chain] must be a table"),
        (
            "[chain]\nrpc_url='x'\ndeployment='d'\n[oracle]\nkeystore='k'\ndomain='d'\ndc_id='"
            + "x" * 40
            + "'\n",
            "longer than 32",
        ),
        (
            "[chain]\nrpc_url='x'\ndeployment='d'\nfinality='soon'\n[oracle]\nkeystore='k'\ndomain='d'\ndc_id='x'\n",
            "bad oracle configuration",
        ),
    ],
)
def test_bad_config__clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "oracle.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        OracleConfig.load(path)
    assert message in str(info.value)


def test_cli_oracle_run__missing_config__one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["oracle", "run", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert (
        result.output.startswith("error: cannot read oracle configuration")
        and "Traceback" not in result.output
    )


def test_cli_oracle_status__nobody_listening__clean_error() -> None:
    result = CliRunner().invoke(main, ["oracle", "status", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "no oracle answers" in result.output


def test_memory_directory__refused_unless_demo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--demo"):
        build_directory({"kind": "memory"}, tmp_path)
    assert isinstance(build_directory({"kind": "memory"}, tmp_path, demo=True), MemoryDirectory)


def test_cli_oracle_run__memory_directory__one_line_error(tmp_path: Path) -> None:
    text = SAMPLE.read_text().replace('kind = "ldap"', 'kind = "memory"')
    config = tmp_path / "oracle.toml"
    config.write_text(text)
    (tmp_path / "oracle.pass").write_text("irrelevant\n")
    result = CliRunner().invoke(
        main, ["oracle", "run", "--config", str(config)], env={"PAMCHAIN_PASSWORD": "irrelevant"}
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith('error: [directory] kind = "memory" changes nothing in Active Directory')


def test_sample_config__verifies_the_chain_by_default() -> None:
    config = OracleConfig.load(SAMPLE)
    assert config.verify == "clique" and config.epoch == 30_000
    assert config.anchor_hash is None and config.anchor_block is None  # from the deployment file


BASE = "[chain]\nrpc_url='x'\ndeployment='d'\n{chain}\n[oracle]\nkeystore='k'\ndomain='d'\ndc_id='x'\n"


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ("verify = 'maybe'", "verify must be 'clique' or 'none'"),
        ("anchor_hash = '0x1234'", "anchor_hash must be a 32-byte hex block hash"),
        ("epoch = 0", "epoch must be a positive block count"),
    ],
)
def test_bad_verification_settings__clear_error(tmp_path: Path, chain: str, message: str) -> None:
    path = tmp_path / "oracle.toml"
    path.write_text(BASE.format(chain=chain))
    with pytest.raises(ConfigError, match=message):
        OracleConfig.load(path)


def test_anchor__configured_or_from_the_deployment_file(tmp_path: Path) -> None:
    hash_a, hash_b = "0x" + "aa" * 32, "0x" + "bb" * 32
    deployment = Deployment(1, "0x" + "11" * 20, 7, "abi", hash_a)
    path = tmp_path / "oracle.toml"
    path.write_text(BASE.format(chain=""))
    assert anchor_for(OracleConfig.load(path), deployment) == Anchor.parse(7, hash_a)
    path.write_text(BASE.format(chain=f"anchor_block = 3\nanchor_hash = '{hash_b}'"))
    assert anchor_for(OracleConfig.load(path), deployment) == Anchor.parse(3, hash_b)
    path.write_text(BASE.format(chain=""))
    assert anchor_for(OracleConfig.load(path), Deployment(1, "0x" + "11" * 20, 7, "abi")) is None


def test_deployment_file__records_the_block_hash(tmp_path: Path) -> None:
    deployment = Deployment(1, "0x" + "11" * 20, 7, "abi", "0x" + "aa" * 32)
    deployment.save(tmp_path / "d.json")
    assert Deployment.load(tmp_path / "d.json") == deployment
    old = Deployment(1, "0x" + "11" * 20, 7, "abi")  # files written before the hash was recorded still load
    old.save(tmp_path / "old.json")
    assert Deployment.load(tmp_path / "old.json") == old
