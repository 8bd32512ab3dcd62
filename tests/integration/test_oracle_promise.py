"""The core promise on a real node and a real Samba AD DC: privilege ends on time, on the right account.

Each test reproduces an attack or a fault from the review (issue 11, items 1-7): a stuck reset, an AD
outage across an expiry, a grantee hijacking their primary group, odd members in a managed group, a reused
account name, overlapping grants, a lost journal. The chain is pamchain's own node (anvil runs the shared
oracle tests); AD is Samba over verified LDAPS.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from eth_utils import keccak
from pamchain.sdk.chain.events import Alarm, GenericEvent
from pamchain.sdk.chain.model import Action, AlarmKind, Outcome
from pamchain.sdk.directory import (
    AccountRef,
    AuthenticationFailed,
    GroupRef,
    pseudonymous_id,
)
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.payloads.sealed import seal_password
from pamchain.sdk.payloads.store import ChainAuthorizer, PayloadClient, PayloadStore, ServedStore

from support.world import ADMINS, DOMAIN, directory_id

from .ad import AdObjects, RunningDC
from .oracle_world import (
    NEW_PASSWORD,
    PSEUDONYM_KEY,
    Suite,
    World,
    answers,
    make_oracle,
    receipts_by_key,
    running,
    tick_until,
    wait_for,
)
from .oracle_world import (
    grant as make_grant,
)

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("suite", ["pamchain"], indirect=True)]


def _alarms(suite: Suite, kind: AlarmKind, request_id: int) -> list[Alarm]:
    return [
        e
        for e in suite.client.events(suite.deployment_block)
        if isinstance(e, Alarm) and e.kind is kind and e.request_id == request_id
    ]


# --- 1. one stuck action blocks every other -------------------------------------------------------------------


def test_missing_payload__reset_deferred__unlock_and_removal_not_delayed(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad_password: str, tmp_path: Path
) -> None:
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(suite.client))
    with ServedStore(store) as served:
        daemon = make_oracle(
            suite, world, ldap_directory, tmp_path, payload_store_url=served.url, retry=Retry(8, 0.2, 2.0)
        )
        grant = make_grant(suite, "alice", 3)
        tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("alice")))
        # A reset whose sealed payload was never stored (or was deleted): approved all the same.
        reset = suite.as_("carol").request_password_reset(keccak(b"never stored"))
        suite.as_("bob").approve(reset)
        for _ in range(3):
            with pytest.raises(AuthenticationFailed):
                ldap_directory.authenticate(world.ref("bob"), "wrong")
        unlock = suite.as_("bob").request_unlock()
        expiry = suite.client.request(grant).expiry
        with running(daemon):
            wait_for(lambda: suite.client.receipt(unlock, Action.UNLOCK) is not None, what="unlock receipt")
            wait_for(
                lambda: not ldap_directory.is_member(world.group_ref, world.ref("alice")), what="removal"
            )
            removed_at = time.time()
            entry = daemon.journal.get(reset, Action.RESET_PASSWORD)
            assert (
                entry is not None and entry.state == "pending" and entry.attempts >= 1
            )  # deferred, not blocking
            wait_for(
                lambda: suite.client.receipt(grant, Action.REMOVE_MEMBER) is not None, what="removal receipt"
            )
        ldap_directory.authenticate(world.ref("bob"), ad_password)
        assert removed_at - expiry < 5, "the removal waited behind the stuck reset"


# --- 2. a failed removal is given up ---------------------------------------------------------------------------


def test_ad_outage_across_expiry__removal_retried__late_alarm__done_when_ad_returns(
    suite: Suite, world: World, ldap_directory: LdapDirectory, samba: RunningDC, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, late_after=1.0)
    rid = make_grant(suite, "alice", 3)
    tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("alice")))
    with running(daemon):
        samba.stop()
        try:
            # Well past the old give-up point (~8 s of outage), and past the late-removal threshold.
            wait_for(
                lambda: _alarms(suite, AlarmKind.REMOVAL_LATE, rid), timeout=30, what="late-removal alarm"
            )
            entry = daemon.journal.get(rid, Action.REMOVE_MEMBER)
            assert entry is not None and entry.state == "pending" and entry.attempts >= 3
        finally:
            samba.start()
        probe = LdapDirectory(ldap_directory.config)
        wait_for(lambda: answers(probe), timeout=30, what="DC back")
        back = time.monotonic()
        wait_for(lambda: daemon.journal.get(rid, Action.REMOVE_MEMBER).state != "pending", what="removal")  # type: ignore[union-attr]
        done = time.monotonic()
        probe.close()
        wait_for(lambda: suite.client.receipt(rid, Action.REMOVE_MEMBER) is not None, what="receipt")
    assert not ldap_directory.is_member(world.group_ref, world.ref("alice"))
    assert suite.client.receipt(rid, Action.REMOVE_MEMBER).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    alarm = _alarms(suite, AlarmKind.REMOVAL_LATE, rid)
    assert len(alarm) == 1 and alarm[0].request_id == rid and alarm[0].subject == directory_id("alice")
    assert done - back < 5, f"removal took {done - back:.2f} s after AD came back"


# --- 3. "removed" while still privileged -----------------------------------------------------------------------


def test_primary_group_hijack__removal_restores_primary_group__receipt_commits_to_read_back(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    rid = make_grant(suite, "alice", 4)
    alice = world.ref("alice")
    tick_until(daemon, lambda: suite.client.receipt(rid, Action.ADD_MEMBER) is not None)
    # As a member of the group, the grantee makes it their primary group: its SID stays in their token and
    # AD refuses to delete the `member` value.
    ldap_directory.set_primary_group(alice, world.group_ref)
    assert ldap_directory.membership(world.group_ref, alice).primary
    tick_until(daemon, lambda: suite.client.receipt(rid, Action.REMOVE_MEMBER) is not None, timeout=30)
    assert not ldap_directory.membership(world.group_ref, alice).effective
    assert ldap_directory.account(alice).primary_group_id == 513
    receipt = suite.client.receipt(rid, Action.REMOVE_MEMBER)
    assert receipt is not None and receipt.outcome is Outcome.APPLIED
    evidence = daemon.journal.evidence(rid, Action.REMOVE_MEMBER)
    assert evidence is not None and receipt.detail_hash == keccak(text=evidence)
    observed = json.loads(evidence)["observed"]
    assert observed == {
        "object_guid": world.users["alice"].object_guid.hex(),
        "direct": False,
        "nested": False,
        "primary": False,
    }
    added = json.loads(daemon.journal.evidence(rid, Action.ADD_MEMBER) or "{}")["observed"]
    assert added["direct"] is True  # the addition, too, was read back
    assert suite.client.receipt(rid, Action.ADD_MEMBER).detail_hash != receipt.detail_hash  # type: ignore[union-attr]


def test_removal_not_confirmed__nested_path_left__never_reported_applied(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad: AdObjects, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, late_after=0.5)
    rid = make_grant(suite, "alice", 3)
    tick_until(daemon, lambda: ldap_directory.is_member(world.group_ref, world.ref("alice")))
    back_door = ad.group()  # the grantee nests a group of their own in the privileged one
    ldap_directory.add_member(back_door.ref, world.ref("alice"))
    ldap_directory.add_group_member(world.group_ref, back_door.ref)
    tick_until(daemon, lambda: _alarms(suite, AlarmKind.REMOVAL_LATE, rid), timeout=30)
    assert suite.client.receipt(rid, Action.REMOVE_MEMBER) is None  # never "applied" while privileged
    assert daemon.journal.get(rid, Action.REMOVE_MEMBER).state == "pending"  # type: ignore[union-attr]
    ldap_directory.remove_object(
        world.group_ref, next(m for m in ldap_directory.members(world.group_ref) if m.kind == "group")
    )
    tick_until(daemon, lambda: suite.client.receipt(rid, Action.REMOVE_MEMBER) is not None, timeout=30)
    assert not ldap_directory.is_member(world.group_ref, world.ref("alice"))


# --- 4. drift blinded by one odd member ------------------------------------------------------------------------


def test_drift__nested_group_computer_foreign_principal_and_user__all_reported_and_removed(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad: AdObjects, tmp_path: Path
) -> None:
    daemon = make_oracle(
        suite, world, ldap_directory, tmp_path, pseudonym_key=PSEUDONYM_KEY, remove_drift=True
    )
    daemon.reconcile_interval = 0
    base = ldap_directory.config.base_dn
    nested = ad.group()
    computer = next(
        m
        for m in ldap_directory.members(GroupRef(f"CN=Domain Controllers,CN=Users,{base}"))
        if m.kind == "computer"
    )
    ldap_directory.add_group_member(world.group_ref, nested.ref)
    ldap_directory.add_dn_member(world.group_ref, computer.dn)
    ldap_directory.add_dn_member(world.group_ref, f"CN=S-1-5-11,CN=ForeignSecurityPrincipals,{base}")
    ldap_directory.add_member(world.group_ref, world.ref("bob"))  # a user, out of band
    ldap_directory.add_member(world.group_ref, world.ref("carol"))
    ldap_directory.set_primary_group(world.ref("carol"), world.group_ref)  # hidden from `member`
    tick = daemon.run_once()
    assert tick.drift == 5
    drift = [
        e
        for e in suite.client.events(suite.deployment_block)
        if isinstance(e, GenericEvent) and e.event == "DriftReported"
    ]
    hashes = {e.args["member_hash"] for e in drift if e.args["target"] == ADMINS}
    expected = {pseudonymous_id(PSEUDONYM_KEY, guid) for guid in (nested.object_guid, computer.object_guid)}
    expected |= {pseudonymous_id(PSEUDONYM_KEY, world.users[n].object_guid) for n in ("bob", "carol")}
    assert expected <= hashes and len(hashes) == 5
    assert ldap_directory.members(world.group_ref) == frozenset()
    assert not ldap_directory.membership(world.group_ref, world.ref("carol")).effective


# --- 5. the wrong person's password ----------------------------------------------------------------------------


def test_name_reused__old_principals_reset_refused__new_hire_untouched(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad: AdObjects, ad_password: str, tmp_path: Path
) -> None:
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(suite.client))
    with ServedStore(store) as served:
        daemon = make_oracle(suite, world, ldap_directory, tmp_path, payload_store_url=served.url)
        alice = suite.as_("alice")
        first = alice.request_unlock()  # the oracle binds alice's id to her objectGUID
        tick_until(daemon, lambda: suite.client.receipt(first, Action.UNLOCK) is not None)
        old = world.users["alice"]
        ldap_directory.delete(old.dn)  # alice leaves; a new hire gets her account name
        new_hire = ad.user(ad_password, name=old.sam_account_name)
        ciphertext = seal_password(alice.oracle_key(DOMAIN), directory_id("alice"), NEW_PASSWORD)
        rid = alice.request_password_reset(
            PayloadClient(served.url).put(suite.env.accounts["alice"], ciphertext)
        )
        suite.as_("bob").approve(rid)
        tick_until(daemon, lambda: suite.client.receipt(rid, Action.RESET_PASSWORD) is not None)
    assert suite.client.receipt(rid, Action.RESET_PASSWORD).outcome is Outcome.FAILED  # type: ignore[union-attr]
    ldap_directory.authenticate(AccountRef(new_hire.sam_account_name), ad_password)  # unchanged
    with pytest.raises(AuthenticationFailed):
        ldap_directory.authenticate(AccountRef(new_hire.sam_account_name), NEW_PASSWORD)


# --- 6. overlapping grants end early ---------------------------------------------------------------------------


def test_overlapping_grants__first_expiry_keeps_membership__last_end_removes(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    short, long = make_grant(suite, "alice", 3), make_grant(suite, "alice", 600)
    alice = world.ref("alice")
    tick_until(daemon, lambda: suite.client.receipt(long, Action.ADD_MEMBER) is not None)
    tick_until(daemon, lambda: suite.client.receipt(short, Action.REMOVE_MEMBER) is not None, timeout=30)
    assert ldap_directory.is_member(world.group_ref, alice)  # the long grant is still live
    observed = json.loads(daemon.journal.evidence(short, Action.REMOVE_MEMBER) or "{}")["observed"]
    assert observed == {"kept_for_grants": [long], "membership": "kept"}
    suite.as_("alice").revoke(long)
    tick_until(daemon, lambda: suite.client.receipt(long, Action.REMOVE_MEMBER) is not None)
    assert not ldap_directory.is_member(world.group_ref, alice)


# --- 7. lost journal = replayed history ------------------------------------------------------------------------


def test_journal_lost__rebuilt_from_chain__nothing_applied_twice(
    suite: Suite, world: World, ldap_directory: LdapDirectory, ad_password: str, tmp_path: Path
) -> None:
    start = int(suite.env.w3.eth.block_number) + 1
    daemon = make_oracle(suite, world, ldap_directory, tmp_path)
    unlock = suite.as_("carol").request_unlock()
    ended = make_grant(suite, "alice", 600)
    live = make_grant(suite, "bob", 600)
    tick_until(daemon, lambda: suite.client.receipt(live, Action.ADD_MEMBER) is not None)
    tick_until(daemon, lambda: suite.client.receipt(ended, Action.ADD_MEMBER) is not None)
    suite.as_("alice").revoke(ended)
    tick_until(daemon, lambda: suite.client.receipt(ended, Action.REMOVE_MEMBER) is not None)
    assert suite.client.receipt(unlock, Action.UNLOCK) is not None
    daemon.journal.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"journal.sqlite3{suffix}").unlink(missing_ok=True)
    # Meanwhile: carol is locked out again, alice was put back in the group by hand.
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            ldap_directory.authenticate(world.ref("carol"), "wrong")
    ldap_directory.add_member(world.group_ref, world.ref("alice"))
    receipts_before = receipts_by_key(suite.client, start)
    rebuilt = make_oracle(suite, world, ldap_directory, tmp_path, start_block=start)
    tick_until(
        rebuilt,
        lambda: (
            rebuilt.journal.checkpoint() is not None
            and rebuilt.journal.count("pending") == 0
            and rebuilt.journal.count("applied") == 0
        ),
    )
    with pytest.raises(AuthenticationFailed) as info:
        ldap_directory.authenticate(world.ref("carol"), ad_password)
    assert info.value.reason == AuthenticationFailed.ACCOUNT_LOCKED  # the old unlock was not applied again
    assert not ldap_directory.is_member(world.group_ref, world.ref("alice"))  # ended grant: ensure absent ran
    assert ldap_directory.is_member(world.group_ref, world.ref("bob"))  # live grant untouched
    assert receipts_by_key(suite.client, start) == receipts_before  # not one receipt more
    assert all(count == 1 for count in receipts_before.values())


# --- issue 16 item 5: AD's password history applies to resets too -----------------------------------------------


def test_password_reset__recent_password_reused__refused_with_a_reason(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    store = PayloadStore(tmp_path / "payloads", ChainAuthorizer(suite.client))
    with ServedStore(store) as served:
        daemon = make_oracle(suite, world, ldap_directory, tmp_path, payload_store_url=served.url)
        alice = suite.as_("alice")

        def reset(password: str) -> int:
            sealed = seal_password(alice.oracle_key(DOMAIN), directory_id("alice"), password)
            rid = alice.request_password_reset(
                PayloadClient(served.url).put(suite.env.accounts["alice"], sealed)
            )
            suite.as_("bob").approve(rid)
            tick_until(daemon, lambda: suite.client.receipt(rid, Action.RESET_PASSWORD) is not None)
            return rid

        first = reset(NEW_PASSWORD)
        again = reset(NEW_PASSWORD)  # the same password once more: AD's history rule must hold
        other = reset("Calm-Purple-Meadow-58")
    assert suite.client.receipt(first, Action.RESET_PASSWORD).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    assert suite.client.receipt(again, Action.RESET_PASSWORD).outcome is Outcome.FAILED  # type: ignore[union-attr]
    assert suite.client.receipt(other, Action.RESET_PASSWORD).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    refused = json.loads(daemon.journal.evidence(again, Action.RESET_PASSWORD) or "{}")["observed"]
    assert refused["failed"].startswith("password rejected: used recently")
    applied = json.loads(daemon.journal.evidence(first, Action.RESET_PASSWORD) or "{}")["observed"]
    # Samba ignores the policy-hints control (it answers unavailableCriticalExtension): the oracle's own
    # history did the refusing, and the evidence says the DC applied no policy.
    assert applied["dc_applied_policy"] is False and ldap_directory.applies_password_policy is False
    ldap_directory.authenticate(world.ref("alice"), "Calm-Purple-Meadow-58")
    assert NEW_PASSWORD not in (daemon.journal.evidence(again, Action.RESET_PASSWORD) or "")
