"""No single oracle (issue 15 item 2): two oracle processes of one domain (two DC sites) against one Samba DC,
one of them killed with SIGKILL at random points and brought back: every expiry is still removed on time, every
action has exactly one receipt (the first one wins, the other oracle verifies and stands down), and the standby
takes over unlocks only after its delay."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from pamchain.sdk.chain.events import GenericEvent, ReceiptPosted
from pamchain.sdk.chain.model import Action
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory
from pamchain.sdk.payloads.sealed import public_key

from support.rpc import free_port
from support.world import DOMAIN

from .oracle_world import Suite, World, grant, receipts_by_key
from .test_oracle_crash import start, write_config

pytestmark = pytest.mark.integration
KILLS = int(os.environ.get("PAMCHAIN_ORACLE_KILLS", "6"))
ON_TIME = 15.0  # seconds from a grant's expiry to its removal receipt's block, whichever oracle is alive


def _add_second_oracle(suite: Suite) -> None:
    """The council registers oracle2 for the domain beside the first, with the domain's existing key."""
    key = public_key(bytes(suite.oracle.key))
    proposed = suite.as_("c1").propose("set_oracle", DOMAIN, suite.env.accounts["oracle2"].address, key)
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposed.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    suite.as_("c2").approve_proposal(proposal_id)
    assert suite.client.is_domain_oracle(DOMAIN, suite.env.accounts["oracle2"].address)


def _configs(
    suite: Suite, world: World, ldap_config: LdapConfig, tmp: Path, ports: tuple[int, int]
) -> tuple[Path, Path]:
    site_a, site_b = tmp / "site-a", tmp / "site-b"
    site_a.mkdir()
    site_b.mkdir()
    (site_b / "domain.key").write_text(bytes(suite.oracle.key).hex() + "\n")  # the domain's shared secret
    (site_b / "domain.key").chmod(0o600)
    a = write_config(site_a, suite, world, ldap_config, ports[0], dc_id="DC-A")
    b = write_config(
        site_b,
        suite,
        world,
        ldap_config,
        ports[1],
        account=suite.env.accounts["oracle2"],
        dc_id="DC-B",
        oracle={"takeover_after": 2.0, "encryption_key_file": "domain.key"},
    )
    return a, b


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError(f"oracle health endpoint {port} never answered: {log.read_text()[-2000:]}")


def _stood_down(log: Path) -> int:
    count = 0
    for line in log.read_text().splitlines():
        try:
            count += json.loads(line).get("msg", "").startswith("stood down")
        except ValueError:
            continue
    return count


@pytest.mark.parametrize("suite", ["pamchain"], indirect=True)
def test_two_oracles__one_killed_at_random__every_expiry_removed_once(
    suite: Suite,
    world: World,
    ldap_directory: LdapDirectory,
    ldap_config: LdapConfig,
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("PAMCHAIN_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    _add_second_oracle(suite)
    ports = {"a": free_port(), "b": free_port()}
    config_a, config_b = _configs(suite, world, ldap_config, tmp_path, (ports["a"], ports["b"]))
    first_block = int(suite.env.w3.eth.block_number) + 1
    logs = {"a": tmp_path / "a.log", "b": tmp_path / "b.log"}
    procs = {"a": start(config_a, logs["a"]), "b": start(config_b, logs["b"])}
    expected: set[tuple[int, int]] = set()
    grants: dict[int, str] = {}
    busy_until = {"alice": 0, "bob": 0, "carol": 0}  # one live grant per person at a time

    try:
        for _ in range(KILLS):
            for name in ("alice", "bob", "carol"):
                expected.add((suite.as_(name).request_unlock(), int(Action.UNLOCK)))
            now = int(suite.env.w3.eth.get_block("latest")["timestamp"])
            free = [n for n, until in busy_until.items() if now > until]
            if free:
                name = rng.choice(free)
                rid = grant(suite, name, rng.randint(3, 8))
                busy_until[name] = suite.client.request(rid).expiry
                grants[rid] = name
                expected.update({(rid, int(Action.ADD_MEMBER)), (rid, int(Action.REMOVE_MEMBER))})
            time.sleep(rng.uniform(0.3, 2.0))
            victim = rng.choice(["a", "b"])  # one site dies; the other carries on alone for a while
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(10)
            time.sleep(rng.uniform(0.5, 4.0))
            procs[victim] = start(config_a if victim == "a" else config_b, logs[victim])
        deadline = time.monotonic() + 120
        while set(receipts_by_key(suite.client, first_block)) != expected:
            for name, proc in procs.items():
                assert proc.poll() is None, f"oracle {name} died: {logs[name].read_text()[-2000:]}"
            assert time.monotonic() < deadline, (
                f"seed {seed}: missing {expected - set(receipts_by_key(suite.client, first_block))}"
            )
            time.sleep(0.25)
        for name in procs:  # a restarted oracle may still be starting: drain once it runs its loop
            _wait_healthy(ports[name], procs[name], logs[name])
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            assert proc.wait(15) == 0, logs[name].read_text()[-2000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    counts = receipts_by_key(suite.client, first_block)
    assert set(counts) == expected and all(c == 1 for c in counts.values()), f"seed {seed}: {counts}"
    w3 = suite.env.w3
    worst = 0
    for event in suite.client.events(first_block, names=["ReceiptPosted"]):
        assert isinstance(event, ReceiptPosted)
        if event.action is Action.REMOVE_MEMBER:
            posted = int(w3.eth.get_block(event.at.block_number)["timestamp"])
            late = posted - suite.client.request(event.request_id).expiry
            worst = max(worst, late)
            assert late <= ON_TIME, f"seed {seed}: grant {event.request_id} removed {late} s after expiry"
    for name in ("alice", "bob", "carol"):
        assert not ldap_directory.is_member(world.group_ref, world.ref(name))
    posted_by = {
        e.oracle
        for e in suite.client.events(first_block, names=["ReceiptPosted"])
        if isinstance(e, ReceiptPosted)
    }
    assert posted_by <= {suite.oracle.address, suite.env.accounts["oracle2"].address}
    stood_down = _stood_down(logs["a"]) + _stood_down(logs["b"])
    print(
        f"seed {seed}: {len(grants)} grants, {len(expected)} actions, receipts by {len(posted_by)} oracles;"
        f" {stood_down} actions stood down; slowest removal receipt {worst} s after expiry"
    )
