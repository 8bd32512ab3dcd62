"""The oracle end to end: a real chain over HTTP (pamchain's node, and anvil), a real Samba AD DC over LDAPS.

Every test deploys the real bytecode, acts through the SDK as requesters and approvers, runs the oracle
against the DC, and checks AD itself (binds, memberships) and the receipts on chain.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from pamchain.sdk.client import PamClient
from pamchain.sdk.deployer import deploy_plan
from pamchain.sdk.directory import (
    Account,
    AccountRef,
    AuthenticationFailed,
    Group,
    GroupRef,
    StaticIdMap,
    pseudonymous_id,
)
from pamchain.sdk.events import GenericEvent, ReceiptPosted
from pamchain.sdk.ldap_directory import LdapConfig, LdapDirectory
from pamchain.sdk.model import Action, Outcome, Status
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.payload_store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore
from pamchain.sdk.sealed import seal_password

from ..sdk.world import ADMINS, DOMAIN, directory_id, standard_plan
from .chains import ChainEnv, chain_backend
from .conftest import AdObjects

pytestmark = pytest.mark.integration

DC1 = b"DC1".ljust(32, b"\x00")
PSEUDONYM_KEY = b"integration-pseudonym-key-32byte"
NEW_PASSWORD = "Quiet-Orange-Lantern-27"


@dataclass
class Suite:
    env: ChainEnv
    client: PamClient
    deployment_block: int

    def as_(self, name: str) -> PamClient:
        return self.client.as_account(self.env.accounts[name])

    @property
    def oracle(self) -> LocalAccount:
        return self.env.accounts["oracle"]


@pytest.fixture(scope="module", params=["pamchain", "anvil"])
def suite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """The contract suite deployed once per chain backend (module scope: deployment is the slow part)."""
    with chain_backend(request.param, tmp_path_factory.mktemp(request.param)) as env:
        client, deployment = deploy_plan(env.w3, env.accounts["deployer"], standard_plan(env.accounts, grant_cap=3600))
        yield Suite(env, client, deployment.block)


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
        {"0x" + directory_id(n).hex(): users[n].sam_account_name for n in users}, {"0x" + ADMINS.hex(): group.dn}
    )
    return World(users, group, id_map)


def make_oracle(suite: Suite, world: World, directory: LdapDirectory, tmp_path: Path, **options: object) -> OracleDaemon:
    return assemble(
        suite.client.as_account(suite.oracle),
        suite.oracle,
        directory,
        tmp_path / "journal.sqlite3",
        domain=DOMAIN,
        dc_id=DC1,
        id_map=world.id_map,
        start_block=int(suite.env.w3.eth.block_number) + 1,
        finality=suite.env.finality,
        retry=Retry(max_attempts=3, base=0.05, cap=0.2),
        reconcile_interval=3600,
        **options,  # type: ignore[arg-type]
    )


def tick_until(daemon: OracleDaemon, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout} s; oracle status {daemon.status()}")
        daemon.run_once()
        time.sleep(0.05)


def test_unlock__three_bad_binds_then_request__right_password_binds(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad_password: str, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    alice = world.ref("alice")
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            ldap_directory.authenticate(alice, "not-the-password")
    with pytest.raises(AuthenticationFailed) as info:
        ldap_directory.authenticate(alice, ad_password)
    assert info.value.reason == AuthenticationFailed.ACCOUNT_LOCKED
    rid = suite.as_("alice").request_unlock()
    tick_until(daemon, lambda: suite.client.receipt(rid, Action.UNLOCK) is not None)
    ldap_directory.authenticate(alice, ad_password)  # binds again
    assert suite.client.receipt(rid, Action.UNLOCK).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    assert suite.client.status(rid) is Status.FULFILLED


def test_elevation__member_added__removed_by_oracle_at_expiry(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    rid = suite.as_("alice").request_elevation(ADMINS, 4, "rotate krbtgt")
    suite.as_("bob").approve(rid)
    suite.as_("carol").approve(rid)
    tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("alice")))
    expiry = suite.client.request(rid).expiry
    tick_until(daemon, lambda: not ldap_directory.is_member(world.group_ref, world.ref("alice")), timeout=20)
    removed_at = time.time()
    assert removed_at >= expiry  # never before the grant's end
    tick_until(daemon, lambda: suite.client.receipt(rid, Action.REMOVE_MEMBER) is not None)
    assert suite.client.receipt(rid, Action.ADD_MEMBER).outcome is Outcome.APPLIED  # type: ignore[union-attr]


def test_password_reset__new_binds_old_fails(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad_password: str, tmp_path: Path
) -> None:
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(suite.client))
    with ServedStore(store) as served:
        daemon = make_oracle(suite, world, ldap_directory, tmp_path, payload_store_url=served.url)
        alice = suite.as_("alice")
        sealed = seal_password(alice.oracle_key(DOMAIN), directory_id("alice"), NEW_PASSWORD)
        rid = alice.request_password_reset(PayloadClient(served.url).put(suite.env.accounts["alice"], sealed))
        suite.as_("bob").approve(rid)
        tick_until(daemon, lambda: suite.client.receipt(rid, Action.RESET_PASSWORD) is not None)
    assert suite.client.receipt(rid, Action.RESET_PASSWORD).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    ldap_directory.authenticate(world.ref("alice"), NEW_PASSWORD)
    with pytest.raises(AuthenticationFailed) as info:
        ldap_directory.authenticate(world.ref("alice"), ad_password)
    assert info.value.reason == AuthenticationFailed.INVALID_CREDENTIALS


def test_suspension__every_membership_removed(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    carol = suite.as_("carol")
    first = carol.request_elevation(ADMINS, 600, break_glass=True)
    second = carol.request_elevation(ADMINS, 300, break_glass=True)
    tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("carol")))
    suite.client.as_account(suite.env.accounts["c1"]).suspend(directory_id("carol"))
    try:
        tick_until(daemon, lambda: not ldap_directory.is_member(world.group_ref, world.ref("carol")))
        tick_until(daemon, lambda: all(suite.client.receipt(r, Action.REMOVE_MEMBER) for r in (first, second)))
        assert suite.client.active_grants(directory_id("carol")) == []
    finally:
        c1, c2 = suite.as_("c1"), suite.as_("c2")
        proposal = c1.governed("reinstate", directory_id("carol"))
        pid = next(e.args["proposal_id"] for e in proposal.events if isinstance(e, GenericEvent) and e.event == "ProposalCreated")
        c2.approve_proposal(pid)


def test_drift__out_of_band_member_reported_and_removed(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad: AdObjects, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, pseudonym_key=PSEUDONYM_KEY, remove_drift=True)
    daemon.reconcile_interval = 0
    intruder = ad.user()
    ldap_directory.add_member(world.group_ref, intruder.ref)
    before = int(suite.env.w3.eth.block_number)
    tick = daemon.run_once()
    assert tick.drift == 1
    assert not ldap_directory.is_member(world.group_ref, intruder.ref)
    reports = [
        e for e in suite.client.events(before + 1) if isinstance(e, GenericEvent) and e.event == "DriftReported"
    ]
    assert [r.args["member_hash"] for r in reports] == [pseudonymous_id(PSEUDONYM_KEY, intruder.object_guid)]
    assert daemon.run_once().drift == 0


def receipts_by_key(client: PamClient, from_block: int) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for event in client.events(from_block):
        if isinstance(event, ReceiptPosted):
            key = (event.request_id, int(event.action))
            counts[key] = counts.get(key, 0) + 1
    return counts


_ = LdapConfig  # re-exported type for fixtures
