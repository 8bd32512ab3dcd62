"""The oracle end to end: a real chain over HTTP (pamchain's node, and anvil), a real Samba AD DC over LDAPS.

Every test deploys the real bytecode, acts through the SDK as requesters and approvers, runs the oracle
against the DC, and checks AD itself (binds, memberships) and the receipts on chain.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pamchain.sdk.chain.events import GenericEvent
from pamchain.sdk.chain.model import Action, Outcome, Status
from pamchain.sdk.directory import AuthenticationFailed, pseudonymous_id
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.payloads.sealed import seal_password
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore

from support.world import ADMINS, DOMAIN, directory_id

from .ad import AdObjects
from .oracle_world import NEW_PASSWORD, PSEUDONYM_KEY, Suite, World, make_oracle, tick_until

pytestmark = pytest.mark.integration


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
    alice = suite.as_("alice")
    # Two live grants of alice's: a break-glass one (one approval by somebody else) and a normal 2-of-2 one.
    first = alice.request_elevation(ADMINS, 600, break_glass=True)
    suite.as_("bob").approve(first)
    second = alice.request_elevation(ADMINS, 300)
    suite.as_("bob").approve(second)
    suite.as_("carol").approve(second)
    tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("alice")))
    suite.client.as_account(suite.env.accounts["c1"]).suspend(directory_id("alice"))
    try:
        tick_until(daemon, lambda: not ldap_directory.is_member(world.group_ref, world.ref("alice")))
        tick_until(
            daemon, lambda: all(suite.client.receipt(r, Action.REMOVE_MEMBER) for r in (first, second))
        )
        assert suite.client.active_grants(directory_id("alice")) == []
    finally:
        c1, c2 = suite.as_("c1"), suite.as_("c2")
        proposal = c1.governed("reinstate", directory_id("alice"))
        pid = next(
            e.args["proposal_id"]
            for e in proposal.events
            if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
        )
        c2.approve_proposal(pid)


def test_drift__out_of_band_member_reported_and_removed(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad: AdObjects, tmp_path: Path
) -> None:
    daemon = make_oracle(
        suite, world, ldap_directory, tmp_path, pseudonym_key=PSEUDONYM_KEY, remove_drift=True
    )
    daemon.reconcile_interval = 0
    intruder = ad.user()
    ldap_directory.add_member(world.group_ref, intruder.ref)
    before = int(suite.env.w3.eth.block_number)
    tick = daemon.run_once()
    assert tick.drift == 1
    assert not ldap_directory.is_member(world.group_ref, intruder.ref)
    reports = [
        e
        for e in suite.client.events(before + 1)
        if isinstance(e, GenericEvent) and e.event == "DriftReported"
    ]
    assert [r.args["member_hash"] for r in reports] == [pseudonymous_id(PSEUDONYM_KEY, intruder.object_guid)]
    assert daemon.run_once().drift == 0
