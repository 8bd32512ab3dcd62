"""The oracle as a real process, killed with SIGKILL at random points: every action applied once, every expiry
revoked, exactly one receipt per (request, action); then SIGTERM drains and exits cleanly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from pamchain.sdk.chain.client import Deployment
from pamchain.sdk.chain.model import Action
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory
from pamchain.sdk.keys import create_keystore

from support.rpc import free_port
from support.world import ADMINS, directory_id

from .oracle_world import Suite, World, receipts_by_key

pytestmark = pytest.mark.integration
KILLS = int(os.environ.get("PAMCHAIN_ORACLE_KILLS", "10"))


def write_config(
    tmp: Path,
    suite: Suite,
    world: World,
    ldap_config: LdapConfig,
    health_port: int,
    *,
    rpc_url: str | None = None,
    oracle: dict[str, object] | None = None,
    account: LocalAccount | None = None,
    dc_id: str = "DC1",
) -> Path:
    """The oracle's TOML for this world; ``rpc_url`` (e.g. a proxy), ``[oracle]`` settings and the oracle's
    account (default: the suite's oracle) and DC id optional."""
    settings = {"max_attempts": 3, "retry_base": 0.05, **(oracle or {})}
    oracle_lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    key = (account or suite.oracle).key
    keystore, _ = create_keystore(tmp / "keys", "oracle-pass", private_key=key, iterations=2**14)
    (tmp / "oracle.pass").write_text("oracle-pass\n")
    (tmp / "oracle.pass").chmod(0o600)
    Deployment(
        int(suite.env.w3.eth.chain_id),
        suite.client.address,
        int(suite.env.w3.eth.block_number) + 1,
        _abi_version(suite),
    ).save(tmp / "deployment.json")
    accounts = "\n".join(
        f'"0x{directory_id(n).hex()}" = "{u.sam_account_name}"' for n, u in world.users.items()
    )
    head = suite.env.w3.eth.get_block("latest")
    # pamchain: the light client verifies from the current head's hash; anvil has no Clique seals
    verify = "clique" if suite.env.kind == "pamchain" else "none"
    config = f"""
[chain]
rpc_url = "{rpc_url or suite.env.url}"
deployment = "deployment.json"
poll_interval = 0.1
verify = "{verify}"
anchor_block = {int(head["number"])}
anchor_hash = "0x{bytes(head["hash"]).hex()}"

[oracle]
keystore = "{keystore}"
password_file = "oracle.pass"
domain = "corp.example"
dc_id = "{dc_id}"
journal = "journal.sqlite3"
health_port = {health_port}
{oracle_lines}

[directory]
kind = "ldap"
url = "{ldap_config.url}"
bind_dn = "{ldap_config.bind_dn}"
base_dn = "{ldap_config.base_dn}"
password_file = "{ldap_config.password_file}"
ca_file = "{ldap_config.ca_file}"
valid_names = {list(ldap_config.valid_names)!r}

[accounts]
{accounts}

[groups]
"0x{ADMINS.hex()}" = "{world.group.dn}"
"""
    path = tmp / "oracle.toml"
    path.write_text(config.replace("'", '"'))
    return path


def _abi_version(suite: Suite) -> str:
    from pamchain.sdk.chain.client import abi_version

    return abi_version()


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pamchain.scripts.cli", "oracle", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        cwd=config.parent,
    )


def _messages(text: bytes) -> list[str]:
    """The `msg` of each JSON log line in `text`."""
    found = []
    for line in text.splitlines():
        try:
            found.append(str(json.loads(line).get("msg")))
        except (ValueError, AttributeError):
            continue
    return found


def outcomes_logged(log: Path) -> dict[tuple[int, str], int]:
    """How many times each (request, action) reached an outcome, from the oracles' JSON logs."""
    counts: dict[tuple[int, str], int] = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "action done":
            key = (int(entry["request_id"]), str(entry["action"]))
            counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("suite", ["pamchain"], indirect=True)
@pytest.mark.parametrize(
    "kills", [pytest.param(KILLS, id="ci"), pytest.param(100, id="long", marks=pytest.mark.slow)]
)
def test_oracle_killed_at_random_points__each_action_once(
    suite: Suite,
    world: World,
    ldap_directory: LdapDirectory,
    ldap_config: LdapConfig,
    tmp_path: Path,
    kills: int,
) -> None:
    seed = int(os.environ.get("PAMCHAIN_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    config = write_config(tmp_path, suite, world, ldap_config, free_port())
    first_block = int(suite.env.w3.eth.block_number) + 1
    log = tmp_path / "oracle.log"
    expected: set[tuple[int, int]] = set()
    grants: list[int] = []
    break_glass_until = {"bob": 0, "carol": 0}  # one live break-glass grant per person at a time

    def new_requests() -> None:
        for name in ("alice", "bob", "carol"):
            expected.add((suite.as_(name).request_unlock(), int(Action.UNLOCK)))
        now = int(suite.env.w3.eth.get_block("latest")["timestamp"])
        free = [n for n, until in break_glass_until.items() if now > until]
        if free and rng.random() < 0.7:
            name = rng.choice(free)
            rid = suite.as_(name).request_elevation(ADMINS, rng.randint(3, 8), break_glass=True)
            suite.as_("carol" if name == "bob" else "bob").approve(rid)  # break-glass needs a second person
            break_glass_until[name] = suite.client.request(rid).expiry
            grants.append(rid)
            expected.update({(rid, int(Action.ADD_MEMBER)), (rid, int(Action.REMOVE_MEMBER))})

    started_at = 0
    process = start(config, log)
    try:
        for _ in range(kills):
            new_requests()
            time.sleep(rng.uniform(0.2, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            started_at = log.stat().st_size  # where the last oracle's own log lines begin
            process = start(config, log)
        deadline = time.monotonic() + 90
        while set(receipts_by_key(suite.client, first_block)) != expected:
            assert process.poll() is None, f"oracle died: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, (
                f"seed {seed}: missing {expected - set(receipts_by_key(suite.client, first_block))}"
            )
            time.sleep(0.25)
        # The drain is what is under test: signal the last oracle once it runs (its signal handlers are
        # installed then), not while it still starts up, when a SIGTERM ends it as it ends any process.
        deadline = time.monotonic() + 60
        while "oracle started" not in _messages(log.read_bytes()[started_at:]):
            assert process.poll() is None, f"oracle died: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the last oracle did not start"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    counts = receipts_by_key(suite.client, first_block)
    assert all(count == 1 for count in counts.values()), f"seed {seed}: duplicate receipts {counts}"
    applied = outcomes_logged(log)
    assert all(count == 1 for count in applied.values()), f"seed {seed}: an outcome reached twice {applied}"
    assert set(counts) == expected
    for name in ("bob", "carol"):
        assert not ldap_directory.is_member(world.group_ref, world.ref(name))
    assert all(not suite.client.is_active(rid) for rid in grants)
    assert "password" not in log.read_text().lower().replace("password_file", "")
