"""A live pamchain for CLI tests: a node in process, the suite deployed by `pamchain deploy`, an oracle.

Session scope: compiling and deploying is the slow part. Tests act through the command line only (click's
CliRunner), as the people in the README would; the fixture keeps the parts a test needs to check AD.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.devnet.runner import OracleThread
from pamchain.node.genesis import deployment_genesis
from pamchain.node.service import run_node
from pamchain.scripts.cli import main
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.directory import StaticIdMap, group_target_id, pseudonymous_id
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.keys import create_keystore
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadStore, ServedStore

PASSPHRASE = "cli-test-passphrase"
NAMES = ("deployer", "c1", "c2", "c3", "oracle", "alice", "bob", "carol")
PEOPLE = ("alice", "bob", "carol")
GROUP_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example"
PSEUDONYM_KEY = keccak(text="cli test pseudonym key")
GROUP_ID = group_target_id(PSEUDONYM_KEY, GROUP_DN)
FIRST_PASSWORD = "Winter-Harbour-Lamp-81"
# The live world's oracle loop: a test waiting for a receipt from an oracle that has stopped would only time out.
_ORACLES: list[OracleThread] = []


@pytest.fixture(autouse=True)
def _oracle_still_running() -> Iterator[None]:
    yield
    for oracle in _ORACLES:
        assert oracle.failure() is None, f"the live world's oracle {oracle.failure()}"


def invoke(args: Sequence[str], env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``pamchain ARGS`` in process; unexpected exceptions propagate (a traceback is a test failure)."""
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


@dataclass
class Live:
    """The running chain and everything the CLI needs to reach it."""

    root: Path
    url: str
    deployment_file: Path
    password_file: Path
    keystores: dict[str, Path]
    accounts: dict[str, LocalAccount]
    ids: dict[str, bytes]
    directory: MemoryDirectory
    payload_url: str
    env: dict[str, str] = field(default_factory=dict)

    def cli(
        self, name: str | None, *args: str, input: str | None = None, extra_env: dict[str, str] | None = None
    ) -> Result:
        """``pamchain ARGS`` as ``name`` (its keystore folder), against this chain."""
        keystore = ["--keystore", str(self.keystores[name].parent)] if name else []
        return invoke([*args, *keystore], env={**self.env, **(extra_env or {})}, input=input)

    def json(self, name: str | None, *args: str) -> Any:
        result = self.cli(name, *args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def client(self) -> PamClient:
        return PamClient.from_deployment(connect(self.url), Deployment.load(self.deployment_file))


def write_deploy_config(
    path: Path, accounts: dict[str, LocalAccount], ids: dict[str, bytes], oracle_keystore: Path
) -> None:
    people = "\n".join(
        f'[[principals]]\nname = "{n}"\ndevice = "{accounts[n].address}"\ndirectory_id = "0x{ids[n].hex()}"\n'
        f'domain = "corp.example"\n'
        for n in PEOPLE
    )
    path.write_text(
        f"""
pseudonym_key_file = "pseudonym.key"

[council]
members = ["{accounts["c1"].address}", "{accounts["c2"].address}", "{accounts["c3"].address}"]
threshold = 2

[[oracles]]
domain = "corp.example"
keystore = "{oracle_keystore}"

{people}
[[policies]]
target = "unlock"
domain = "corp.example"
self_service = true
max_pending = 600
unlock_limit = 1000
unlock_window = 3600

[[policies]]
target = "password-reset"
domain = "corp.example"
approvers = ["bob", "carol"]
approvals_required = 1

[[policies]]
target = "{GROUP_DN}"
domain = "corp.example"
approvers = ["bob", "carol"]
requesters = ["alice", "bob", "carol"]
approvals_required = 2
max_duration = 3600
"""
    )


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("cli")
    password_file = root / "passphrase"
    password_file.write_text(PASSPHRASE + "\n")
    (root / "pseudonym.key").write_text(PSEUDONYM_KEY.hex() + "\n")
    accounts, keystores = {}, {}
    for name in NAMES:
        keystores[name], accounts[name] = create_keystore(root / "keys" / name, PASSPHRASE, iterations=2**14)

    directory = MemoryDirectory(base_dn="DC=corp,DC=example")
    directory.create_group("Domain Admins")
    users = {n: directory.create_user(n, FIRST_PASSWORD) for n in PEOPLE}
    ids = {n: pseudonymous_id(PSEUDONYM_KEY, users[n].object_guid) for n in PEOPLE}

    signer = Account.from_key(keccak(text="cli-test-signer"))
    # Nobody is funded: every CLI test acts from accounts that never held ether (a free-gas chain).
    genesis = deployment_genesis([signer.address], 1337, {}, accounts["deployer"].address)
    with run_node(genesis, signer.key, root / "node") as node:
        deployment_file = root / "deployment.json"
        env = {
            "PAMCHAIN_RPC_URL": node.url,
            "PAMCHAIN_DEPLOYMENT": str(deployment_file),
            "PAMCHAIN_PASSWORD": PASSPHRASE,
            "PAMCHAIN_PSEUDONYM_KEY_FILE": str(root / "pseudonym.key"),
            "PAMCHAIN_LANG": "en",  # messages as the tests expect them, whatever the machine's locale
        }
        config = root / "deploy.toml"
        write_deploy_config(config, accounts, ids, keystores["oracle"])
        result = invoke(
            ["deploy", "--config", str(config), "--keystore", str(keystores["deployer"])], env=env
        )
        assert result.exit_code == 0, result.output
        deployment = Deployment.load(deployment_file)

        store = PayloadStore(
            root / "payloads", ChainAuthorizer(PamClient(connect(node.url), deployment.address))
        )
        with ServedStore(store) as served:
            env["PAMCHAIN_PAYLOAD_STORE"] = served.url
            id_map = StaticIdMap.from_hex(
                {"0x" + ids[n].hex(): users[n].sam_account_name for n in PEOPLE},
                {"0x" + GROUP_ID.hex(): GROUP_DN},
            )
            daemon = assemble(
                PamClient(connect(node.url), deployment.address, accounts["oracle"]),
                accounts["oracle"],
                directory,
                root / "journal.sqlite3",
                domain=b"corp.example".ljust(32, b"\x00"),
                dc_id=b"DC1".ljust(32, b"\x00"),
                id_map=id_map,
                start_block=deployment.block,
                payload_store_url=served.url,
                finality=Finality(),
                poll_interval=0.1,
                reconcile_interval=3600,
            )
            with OracleThread(daemon) as oracle:
                _ORACLES.append(oracle)
                yield Live(
                    root,
                    node.url,
                    deployment_file,
                    password_file,
                    keystores,
                    accounts,
                    ids,
                    directory,
                    served.url,
                    env,
                )
