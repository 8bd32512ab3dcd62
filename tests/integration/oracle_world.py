"""The oracle's integration world: the suite deployed on a chain backend, fresh AD objects mapped to its ids."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.events import ReceiptPosted
from pamchain.sdk.directory import Account, AccountRef, DirectoryUnavailable, Group, GroupRef, StaticIdMap
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.light_client import NO_VERIFICATION, Anchor, Verification

from support.chains import ChainEnv, chain_backend
from support.world import ADMINS, DOMAIN, directory_id, standard_plan

from .ad import AdObjects

DC1 = b"DC1".ljust(32, b"\x00")
PSEUDONYM_KEY = b"integration-pseudonym-key-32byte"
NEW_PASSWORD = "Quiet-Orange-Lantern-27"


@dataclass
class Suite:
    env: ChainEnv
    client: PamClient
    deployment_block: int
    deployment_hash: str | None = None

    def as_(self, name: str) -> PamClient:
        return self.client.as_account(self.env.accounts[name])

    @property
    def oracle(self) -> LocalAccount:
        return self.env.accounts["oracle"]


@pytest.fixture(scope="module", params=["pamchain", "anvil"])
def suite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The contract suite deployed once per chain backend (module scope: deployment is the slow part)."""
    with chain_backend(request.param, tmp_path_factory.mktemp(request.param)) as env:
        client, deployment = deploy_plan(
            env.w3, env.accounts["deployer"], standard_plan(env.accounts, grant_cap=3600)
        )
        yield Suite(env, client, deployment.block, deployment.block_hash)


@dataclass
class World:
    """Fresh AD users for alice, bob, carol and a fresh privileged group, mapped to the chain's ids."""

    users: dict[str, Account]
    group: Group
    id_map: StaticIdMap

    def ref(self, name: str) -> AccountRef:
        return self.users[name].ref

    @property
    def group_ref(self) -> GroupRef:
        return self.group.ref


@pytest.fixture
def world(ad: AdObjects, ad_password: str) -> World:
    users = {name: ad.user(ad_password) for name in ("alice", "bob", "carol")}
    group = ad.group()
    id_map = StaticIdMap.from_hex(
        {"0x" + directory_id(n).hex(): users[n].sam_account_name for n in users},
        {"0x" + ADMINS.hex(): group.dn},
    )
    return World(users, group, id_map)


def make_oracle(
    suite: Suite, world: World, directory: LdapDirectory, tmp_path: Path, **options: object
) -> OracleDaemon:
    settings: dict[str, object] = {
        "start_block": int(suite.env.w3.eth.block_number) + 1,
        "retry": Retry(max_attempts=3, base=0.05, cap=0.2),
        "reconcile_interval": 3600,
        "verification": verification(suite),
        **options,
    }
    return assemble(
        suite.client.as_account(suite.oracle),
        suite.oracle,
        directory,
        tmp_path / "journal.sqlite3",
        domain=DOMAIN,
        dc_id=DC1,
        id_map=world.id_map,
        finality=suite.env.finality,
        **settings,  # type: ignore[arg-type]
    )


def verification(suite: Suite) -> Verification:
    """pamchain's node is Clique: verify it from the deployment block; anvil is not, so opt out."""
    if suite.env.kind != "pamchain" or suite.deployment_hash is None:
        return NO_VERIFICATION
    return Verification("clique", Anchor.parse(suite.deployment_block, suite.deployment_hash))


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> float:
    """Poll ``condition`` until true; returns the monotonic time it was first seen true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.02)
    return time.monotonic()


@contextmanager
def running(daemon: OracleDaemon, poll_interval: float = 0.05) -> Iterator[OracleDaemon]:
    """The daemon's real loop (removal thread included) in a thread, stopped at the end."""
    daemon.poll_interval = poll_interval
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()


def tick_until(daemon: OracleDaemon, condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout} s; oracle status {daemon.status()}")
        daemon.run_once()
        time.sleep(0.05)


def receipts_by_key(client: PamClient, from_block: int) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for event in client.events(from_block):
        if isinstance(event, ReceiptPosted):
            key = (event.request_id, int(event.action))
            counts[key] = counts.get(key, 0) + 1
    return counts


def grant(suite: Suite, name: str, seconds: int) -> int:
    """An active grant of the world's group: alice's approved by bob and carol (the policy's approvers); bob's
    and carol's by break-glass, which still takes the other one's approval (nobody elevates alone)."""
    if name != "alice":
        rid = suite.as_(name).request_elevation(ADMINS, seconds, "incident", break_glass=True)
        suite.as_("carol" if name == "bob" else "bob").approve(rid)
        return rid
    rid = suite.as_(name).request_elevation(ADMINS, seconds, "maintenance")
    for approver in ("bob", "carol"):
        suite.as_(approver).approve(rid)
    return rid


def answers(directory: LdapDirectory) -> bool:
    """Whether the DC answers a search (a probe while it restarts)."""
    try:
        directory.accounts()
        return True
    except DirectoryUnavailable:
        return False
