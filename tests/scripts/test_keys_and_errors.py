"""Keys round trip, and user errors that must be one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from pamchain.sdk.chain.deployer import load_plan
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.keys import load_account

from support.rpc import free_port

from .conftest import invoke


def test_keys__new_list_import_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    env = {"PAMCHAIN_PASSWORD": "correct horse"}
    created = invoke(["keys", "new", "--keystore", str(folder), "--json", "--password-from-env"], env=env)
    assert created.exit_code == 0, created.output
    new = json.loads(created.stdout)
    assert Path(new["path"]).stat().st_mode & 0o777 == 0o600

    key_file = tmp_path / "key.hex"
    imported_account = Account.create()
    key_file.write_text(imported_account.key.hex() + "\n")
    imported = invoke(
        [
            "keys",
            "import",
            "--private-key-file",
            str(key_file),
            "--keystore",
            str(folder),
            "--password-from-env",
        ],
        env=env,
    )
    assert imported.exit_code == 0, imported.output
    assert imported_account.address in imported.stdout
    again = invoke(
        [
            "keys",
            "import",
            "--private-key-file",
            str(key_file),
            "--keystore",
            str(folder),
            "--password-from-env",
        ],
        env=env,
    )
    assert again.exit_code == 1 and "already in" in again.stderr

    listed = json.loads(invoke(["keys", "list", "--keystore", str(folder), "--json"]).stdout)
    assert sorted(k["address"] for k in listed) == sorted([new["address"], imported_account.address])
    path = next(Path(k["path"]) for k in listed if k["address"] == imported_account.address)
    assert load_account(path, "correct horse").address == imported_account.address


def test_keys_new__prompts_twice_hidden(tmp_path: Path) -> None:
    phrase = "quiet orange lantern harbour"
    result = invoke(["keys", "new", "--keystore", str(tmp_path)], input=f"{phrase}\n{phrase}\n")
    assert result.exit_code == 0, result.output
    assert phrase not in result.output
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("phrase", ["x", "s3cret-pass", "password123", "aaaaaaaaaaaaaaaa"])
def test_keys_new__guessable_passphrase__refused_with_advice_never_echoed(
    tmp_path: Path, phrase: str
) -> None:
    result = invoke(["keys", "new", "--keystore", str(tmp_path / "k")], input=f"{phrase}\n{phrase}\n")
    assert result.exit_code == 2 and "too easy to guess" in result.stderr
    assert phrase not in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "k").exists() or not list((tmp_path / "k").iterdir())


def test_keys_new__environment_passphrase__only_with_the_explicit_flag(tmp_path: Path) -> None:
    env = {"PAMCHAIN_PASSWORD": "quiet orange lantern harbour"}
    refused = invoke(["keys", "new", "--keystore", str(tmp_path / "a")], env=env)
    assert refused.exit_code == 2 and "--password-from-env" in refused.stderr
    assert not (tmp_path / "a").exists() or not list((tmp_path / "a").iterdir())
    accepted = invoke(["keys", "new", "--keystore", str(tmp_path / "b"), "--password-from-env"], env=env)
    assert accepted.exit_code == 0, accepted.output
    weak = invoke(
        ["keys", "new", "--keystore", str(tmp_path / "c"), "--password-from-env"],
        env={"PAMCHAIN_PASSWORD": "x"},
    )
    assert weak.exit_code == 2 and "too easy to guess" in weak.stderr


def test_keys_import__rejects_a_malformed_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hex"
    bad.write_text("not a key")
    result = invoke(
        ["keys", "import", "--private-key-file", str(bad), "--keystore", str(tmp_path / "k")],
        env={"PAMCHAIN_PASSWORD": "x"},
    )
    assert result.exit_code == 2 and "32 bytes of hex" in result.stderr


def test_wrong_passphrase__one_line_error(tmp_path: Path) -> None:
    created = json.loads(
        invoke(
            ["keys", "new", "--keystore", str(tmp_path), "--json", "--password-from-env"],
            env={"PAMCHAIN_PASSWORD": "right horse battery staple"},
        ).stdout
    )
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("wrong\n")
    deployment = tmp_path / "deployment.json"
    deployment.write_text(
        json.dumps(
            {
                "chain_id": 1,
                "contracts": {"PamChain": {"address": "0x" + "11" * 20, "block": 1}},
                "abi_version": "x",
            }
        )
    )
    result = invoke(
        [
            "request",
            "unlock",
            "--keystore",
            str(tmp_path),
            "--password-file",
            str(wrong),
            "--deployment",
            str(deployment),
        ]
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: wrong passphrase for keystore {Path(created['path']).name}"


def test_no_passphrase_option_on_the_command_line() -> None:
    result = invoke(["request", "unlock", "--password", "x"])
    assert result.exit_code == 2 and "No such option" in result.stderr


def test_node_unreachable__clear_error(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    deployment.write_text(
        json.dumps(
            {
                "chain_id": 1,
                "contracts": {"PamChain": {"address": "0x" + "11" * 20, "block": 1}},
                "abi_version": "x",
            }
        )
    )
    url = f"http://127.0.0.1:{free_port()}"
    result = invoke(["grants", "--rpc-url", url, "--deployment", str(deployment)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: no node answers at {url} (set --rpc-url or PAMCHAIN_RPC_URL)"
    verify = invoke(["audit", "verify", "--rpc-url", url])
    assert verify.exit_code == 1 and verify.stderr.startswith("error: no node answers at")


def test_missing_deployment__clear_error(tmp_path: Path) -> None:
    result = invoke(["receipts", "--deployment", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "no deployment file at" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["policy", "set", "nonsense", "--domain", "corp.example"], "use unlock, password-reset"),
        (["request", "elevate", "unlock", "--duration", "0"], "--duration"),
        (["principal", "enrol", "0x1234", "0x" + "00" * 32, "--domain", "d"], "is not an Ethereum address"),
        (["principal", "suspend", "0xabc"], "is not 0x + 64 hex digits"),
        (["audit", "export", "--format", "xlsx"], "'xlsx' is not one of"),
    ],
)
def test_bad_arguments__usage_errors(args: list[str], message: str) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_deploy_config__errors_name_the_section(tmp_path: Path) -> None:
    config = tmp_path / "deploy.toml"
    config.write_text(
        '[council]\nmembers = ["0x' + "11" * 20 + '", "0x' + "22" * 20 + '"]\nthreshold = 2\n'
        '[[policies]]\ntarget = "unlock"\ndomain = "corp.example"\nself_servise = true\n'
    )
    with pytest.raises(ConfigError, match=r"\[\[policies\]\] #1: unknown keys self_servise"):
        load_plan(config)
    config.write_text('[council]\nmembers = ["0x' + "11" * 20 + '"]\nthreshold = 2\n')
    with pytest.raises(ConfigError, match=r"\[council\]: needs at least 2 members"):
        load_plan(config)
    result = invoke(
        [
            "deploy",
            "--config",
            str(config),
            "--keystore",
            str(tmp_path),
            "--deployment",
            str(tmp_path / "d.json"),
        ]
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: ")


def test_example_deploy_config_parses() -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "deploy.example.toml"
    plan = load_plan(example)
    assert plan.threshold == 2 and len(plan.council) == 3 and len(plan.policies) == 3


@pytest.mark.parametrize(
    ("content", "message"), [("", "is empty"), ("wrong\n", "wrong passphrase for keystore")]
)
def test_node_run__bad_passphrase_file__one_line_error(tmp_path: Path, content: str, message: str) -> None:
    """The validator's keystore goes through the same keystore module as every other key."""
    from pamchain.node.genesis import make_genesis
    from pamchain.sdk.keys import write_keystore

    signer = Account.create()
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(make_genesis([signer.address], 31337)))
    datadir = tmp_path / "data"
    assert invoke(["node", "init", "--datadir", str(datadir), "--genesis", str(genesis)]).exit_code == 0
    keystore = write_keystore(
        tmp_path / "signer.json", bytes(signer.key), "right horse battery", iterations=2
    )
    password = tmp_path / "password"
    password.write_text(content)
    result = invoke(
        [
            "node",
            "run",
            "--datadir",
            str(datadir),
            "--keystore",
            str(keystore),
            "--password-file",
            str(password),
        ]
    )
    assert result.exit_code == 1 and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_cli__command_table__matches_the_commands_and_loads_nothing_up_front() -> None:
    """`pamchain --help` lists every command from cli.COMMANDS without importing them: the summaries there are
    each command's own; and a fresh interpreter imports neither web3 nor the node for the CLI itself."""
    import subprocess
    import sys

    from pamchain.scripts.cli import COMMANDS, load_command

    for name, (_, _, summary) in COMMANDS.items():
        assert load_command(name).get_short_help_str(limit=1000) == summary, name
    probe = "import sys, pamchain.scripts.cli; print(sorted(m for m in ('web3', 'pamchain.node', 'vyper') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
    listed = invoke(["--help"])
    assert listed.exit_code == 0 and all(name in listed.stdout for name in COMMANDS)


# --- several oracles for one domain: one shared domain key (issue 15 item 2) ---------------------------------

_COUNCIL = '[council]\nmembers = ["0x' + "11" * 20 + '", "0x' + "22" * 20 + '"]\nthreshold = 2\n'


def test_oracle_domain_key__created_0600_printed_never_overwritten(tmp_path: Path) -> None:
    from pamchain.sdk.payloads.sealed import load_domain_secret, public_key

    path = tmp_path / "domain.key"
    made = invoke(["oracle", "domain-key", str(path)])
    assert made.exit_code == 0, made.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert made.stdout.strip() == "0x" + public_key(load_domain_secret(path)).hex()
    again = invoke(["oracle", "domain-key", str(path)])
    assert again.exit_code == 1 and "never overwritten" in again.stderr and "Traceback" not in again.output


@pytest.mark.parametrize("content", ["", "zz" * 32, "ab" * 31])
def test_domain_secret__bad_file__clear_error(tmp_path: Path, content: str) -> None:
    from pamchain.sdk.payloads.sealed import load_domain_secret

    path = tmp_path / "domain.key"
    path.write_text(content)
    with pytest.raises(ConfigError, match="64 hex digits"):
        load_domain_secret(path)


def test_deploy_plan__two_oracles_of_a_domain_with_different_keys__refused(tmp_path: Path) -> None:
    config = tmp_path / "deploy.toml"
    oracles = "".join(
        f'[[oracles]]\ndomain = "corp.example"\naddress = "0x{a * 20}"\nenc_pubkey = "0x{k * 32}"\n'
        for a, k in (("33", "01"), ("44", "02"))
    )
    config.write_text(_COUNCIL + oracles)
    with pytest.raises(ConfigError, match="must share the domain's encryption key"):
        load_plan(config)


def test_deploy_plan__two_oracles_sharing_the_domain_key__both_registered_with_it(tmp_path: Path) -> None:
    from pamchain.sdk.keys import create_keystore
    from pamchain.sdk.payloads.sealed import create_domain_secret, public_key

    secret = create_domain_secret(tmp_path / "domain.key")
    entries = ""
    for name in ("site-a", "site-b"):
        keystore, _ = create_keystore(tmp_path / name, "oracle pass phrase", iterations=2**4)
        entries += f'[[oracles]]\ndomain = "corp.example"\nkeystore = "{keystore}"\nencryption_key_file = "domain.key"\n'
    (tmp_path / "deploy.toml").write_text(_COUNCIL + entries)
    plan = load_plan(tmp_path / "deploy.toml", passphrase_for=lambda _path: "oracle pass phrase")
    assert len(plan.oracles) == 2 and {o.enc_pubkey for o in plan.oracles} == {public_key(secret)}
    assert plan.oracles[0].address != plan.oracles[1].address


def test_node_genesis__deployer__names_pamchain_and_pamnetwork_before_they_exist(tmp_path: Path) -> None:
    from pamchain.node.genesis import contract_address
    from pamchain.node.p2p.identity import NodeKey

    deployer, signer = Account.create(), Account.create()
    node = f"pamchain://{NodeKey.generate().node_id.hex()}@10.0.0.1:30310"
    out = tmp_path / "genesis.json"
    result = invoke(
        [
            "node",
            "genesis",
            "--signer",
            signer.address,
            "--chain-id",
            "4242",
            "--deployer",
            deployer.address,
            "--alloc",
            f"{deployer.address}=1000000000000000000000",
            "--node",
            node,
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    pam = json.loads(out.read_text())["config"]["pamchain"]
    owner = bytes.fromhex(deployer.address[2:])
    assert pam["allowlist"] == [deployer.address]
    assert pam["permissionContract"].lower() == "0x" + contract_address(owner, 1).hex()
    assert pam["nodePermissionContract"].lower() == "0x" + contract_address(owner, 2).hex()
    assert pam["nodeAllowlist"] == [node] and pam["p256Verify"] is True


@pytest.mark.parametrize(
    ("flags", "free"),
    [(["--deployer", "D"], True), (["--deployer", "D", "--no-zero-base-fee"], False), ([], False),
     (["--zero-base-fee"], True)],
)  # fmt: skip
def test_node_genesis__free_gas__on_with_a_deployer_unless_refused(
    tmp_path: Path, flags: list[str], free: bool
) -> None:
    deployer = Account.create()
    out = tmp_path / "genesis.json"
    args = [deployer.address if f == "D" else f for f in flags]
    result = invoke(
        ["node", "genesis", "--signer", deployer.address, "--chain-id", "4242", *args, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["config"]["pamchain"].get("zeroBaseFee", False) is free
    assert (int(doc["baseFeePerGas"], 16) == 0) is free


def _init_datadir(datadir: Path) -> None:
    """A datadir ``node run`` can start from: a fresh one-signer genesis, initialised."""
    signer = Account.create()
    genesis = datadir.parent / "genesis.json"
    made = invoke(["node", "genesis", "--signer", signer.address, "--chain-id", "4242", "-o", str(genesis)])
    assert made.exit_code == 0, made.output
    assert invoke(["node", "init", "--datadir", str(datadir), "--genesis", str(genesis)]).exit_code == 0


def test_node_run__nonsense_free_gas_limit__usage_error_before_anything_starts(tmp_path: Path) -> None:
    _init_datadir(tmp_path / "d")
    result = invoke(["node", "run", "--datadir", str(tmp_path / "d"), "--txpool-free-window", "0"])
    assert result.exit_code == 2
    assert "the zero-price gas budget needs a positive gas amount and window" in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--p2p-handshake-timeout", "0"], "the p2p handshake timeout must be positive"),
        (["--p2p-redial-max", "-1"], "the p2p redial cap must be at least the first backoff (0.5 s)"),
        (["--p2p-redial-max", "0.1"], "the p2p redial cap must be at least the first backoff (0.5 s)"),
    ],
)
def test_node_run__nonsense_p2p_limit__usage_error_before_anything_starts(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    _init_datadir(tmp_path / "d")
    result = invoke(["node", "run", "--datadir", str(tmp_path / "d"), *flags])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_node_genesis__deployer_with_a_permission_contract__usage_error(tmp_path: Path) -> None:
    deployer = Account.create()
    result = invoke(
        [
            "node",
            "genesis",
            "--signer",
            deployer.address,
            "--chain-id",
            "4242",
            "--deployer",
            deployer.address,
            "--permission-contract",
            deployer.address,
            "-o",
            str(tmp_path / "g.json"),
        ]
    )
    assert result.exit_code == 2 and "--deployer sets the allowlist" in result.output
    assert not (tmp_path / "g.json").exists()
