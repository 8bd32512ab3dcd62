"""The core promise's fast twin: the oracle on the real bytecode (eth-tester) and the in-memory directory.

The Samba versions of these tests are in tests/integration/test_oracle_promise.py; here the mechanisms are
pinned down quickly: lanes and priorities, isolation of a failing action, read-back, GUID binding, overlap,
rebuilding a lost journal, journals from older oracles.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from eth_utils import keccak
from pamchain.sdk.chain.events import Alarm, ReceiptPosted
from pamchain.sdk.chain.model import Action, AlarmKind, Outcome
from pamchain.sdk.directory import AccountRef, GroupRef, HmacGuidResolver, StaticIdMap, pseudonymous_id
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.journal import Journal

from support.world import ADMINS, Cast, directory_id

from .test_oracle import ADMINS_DN, PSEUDONYM_KEY, build, lock_out

ADMINS_GROUP = GroupRef(ADMINS_DN)


def _grant(cast: Cast, seconds: int) -> int:
    rid = cast.as_(cast.alice).request_elevation(ADMINS, seconds, "maintenance")
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    return rid


class BrokenPayloads:
    """A payload source whose store is gone: every fetch raises something unexpected."""

    def __init__(self) -> None:
        self.calls = 0

    def password(self, payload_hash: bytes, subject: bytes) -> str:
        self.calls += 1
        raise KeyError("payload missing")


def test_failing_reset__deferred_with_backoff__unlock_and_expiry_removal_go_first(
    cast: Cast, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory, retry=Retry(max_attempts=50, base=5.0, cap=60.0))
    payloads = BrokenPayloads()
    daemon.executor.payloads = payloads  # type: ignore[assignment]
    grant = _grant(cast, 60)
    daemon.run_once()
    assert directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    reset = cast.as_(cast.carol).request_password_reset(keccak(b"gone"))
    cast.as_(cast.bob).approve(reset)
    lock_out(directory, "bob")
    unlock = cast.as_(cast.bob).request_unlock()
    clock.travel(61)  # the grant expires while the reset is stuck
    daemon.run_once()
    assert not directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    assert not directory.is_locked(AccountRef("bob"))
    assert cast.client.receipt(unlock, Action.UNLOCK) is not None
    assert cast.client.receipt(grant, Action.REMOVE_MEMBER) is not None
    entry = daemon.journal.get(reset, Action.RESET_PASSWORD)
    assert entry is not None and entry.state == "pending" and entry.attempts == 1
    assert entry.not_before > clock()  # backed off: not retried 20 times a second
    for _ in range(5):
        daemon.run_once()
    assert payloads.calls == 1  # nothing retried before its time
    assert daemon.status()["deferred_actions"] == 1


def test_run_due__removal_journalled_last__applied_first(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory)
    grant = _grant(cast, 60)
    daemon.run_once()
    for name in ("alice", "bob", "carol"):
        lock_out(directory, name)
    unlocks = [cast.as_(who).request_unlock() for who in (cast.alice, cast.bob, cast.carol)]
    daemon.follower.poll()
    clock.travel(61)
    order: list[Action] = []
    real_apply = daemon.executor.apply
    daemon.executor.apply = lambda entry: order.append(entry.action.action) or real_apply(entry)  # type: ignore[method-assign]
    daemon.executor.run_due()
    assert order[0] is Action.REMOVE_MEMBER and order[1:] == [Action.UNLOCK] * 3
    assert daemon.journal.get(grant, Action.REMOVE_MEMBER).action.request_id == grant  # type: ignore[union-attr]
    assert all(daemon.journal.get(u, Action.UNLOCK).state == "applied" for u in unlocks)  # type: ignore[union-attr]


def test_removal__directory_down__retried_past_max_attempts_until_confirmed(
    cast: Cast, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(
        cast, tmp_path, directory, removal_retry=Retry(max_attempts=None, base=0.0, cap=0.0)
    )
    grant = _grant(cast, 60)
    daemon.run_once()
    real_remove = directory.remove_member
    failures = {"left": 25}

    def flaky_remove(group: GroupRef, account: AccountRef) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("AD down")
        real_remove(group, account)

    directory.remove_member = flaky_remove  # type: ignore[method-assign]
    clock.travel(61)
    for _ in range(25):
        daemon.run_once()
        assert directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    assert daemon.journal.get(grant, Action.REMOVE_MEMBER).state == "pending"  # type: ignore[union-attr]
    daemon.run_once()
    assert not directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    assert cast.client.receipt(grant, Action.REMOVE_MEMBER).outcome is Outcome.APPLIED  # type: ignore[union-attr]


def test_late_removal__alarm_once__then_receipt(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory, late_after=30.0)
    grant = _grant(cast, 60)
    daemon.run_once()
    real_remove = directory.remove_member
    directory.remove_member = lambda g, a: (_ for _ in ()).throw(TimeoutError())  # type: ignore[method-assign]
    clock.travel(61)
    assert daemon.run_once().alarms == 0  # due, not late yet
    clock.travel(40)
    assert daemon.run_once().alarms == 1
    assert daemon.run_once().alarms == 0  # once
    alarms = [e for e in cast.client.events(cast.deployment_block) if isinstance(e, Alarm)]
    assert [(a.kind, a.request_id) for a in alarms] == [(AlarmKind.REMOVAL_LATE, grant)]
    status = daemon.status()
    assert (
        status["late_removal_alarms"] == 1 and status["late_removals"] == 1 and status["failed_actions"] == 0
    )
    directory.remove_member = real_remove  # type: ignore[method-assign]
    clock.travel(2)  # the next retry, at most a second away
    daemon.run_once()
    assert cast.client.receipt(grant, Action.REMOVE_MEMBER).outcome is Outcome.APPLIED  # type: ignore[union-attr]


def test_primary_group_hijack__removed_and_evidence_in_receipt(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory)
    grant = _grant(cast, 60)
    daemon.run_once()
    directory.set_primary_group(AccountRef("alice"), ADMINS_GROUP)
    assert directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    clock.travel(61)
    daemon.run_once()
    assert not directory.membership(ADMINS_GROUP, AccountRef("alice")).effective
    receipt = cast.client.receipt(grant, Action.REMOVE_MEMBER)
    evidence = daemon.journal.evidence(grant, Action.REMOVE_MEMBER)
    assert receipt is not None and evidence is not None and receipt.detail_hash == keccak(text=evidence)
    assert json.loads(evidence)["observed"]["primary"] is False


def test_unlock__read_back_still_locked__not_reported_applied(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    lock_out(directory, "alice")
    directory.unlock = lambda account: None  # type: ignore[method-assign] # AD says yes, changes nothing
    rid = cast.as_(cast.alice).request_unlock()
    daemon.run_once()
    assert cast.client.receipt(rid, Action.UNLOCK) is None
    entry = daemon.journal.get(rid, Action.UNLOCK)
    assert entry is not None and entry.state == "pending" and entry.attempts == 1


def test_hmac_resolver__name_reused__reset_refused(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    directory.create_user("alice", "Tr1cky-Blue-Harbour!")
    old_guid = directory.account(AccountRef("alice")).object_guid
    subject = pseudonymous_id(PSEUDONYM_KEY, old_guid)
    resolver = HmacGuidResolver(PSEUDONYM_KEY, min_refresh=0)
    ref = resolver.account_for(subject, directory)  # cached: subject -> alice, bound to her GUID
    directory.delete(directory.account(AccountRef("alice")).dn)
    directory.create_user("alice", "New-Hire-Password-81!")
    assert resolver.account_for(subject, directory) == ref  # a cache hit by name...
    assert ref.object_guid == old_guid  # ...but bound to the old GUID: nothing reaches the new hire
    with pytest.raises(LookupError):
        directory.reset_password(ref, "Quiet-Orange-Lantern-27")
    directory.authenticate(AccountRef("alice"), "New-Hire-Password-81!")


def test_static_map__name_reused__unlock_refused_after_binding(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    first = cast.as_(cast.alice).request_unlock()
    daemon.run_once()
    assert cast.client.receipt(first, Action.UNLOCK).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    directory.delete(directory.account(AccountRef("alice")).dn)
    directory.create_user("alice", "New-Hire-Password-81!")
    lock_out(directory, "alice")
    second = cast.as_(cast.alice).request_unlock()
    daemon.run_once()
    assert cast.client.receipt(second, Action.UNLOCK).outcome is Outcome.FAILED  # type: ignore[union-attr]
    assert directory.is_locked(AccountRef("alice"))


def test_overlapping_grants__membership_kept_until_the_last_ends(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, clock = build(cast, tmp_path, directory)
    short, long = _grant(cast, 60), _grant(cast, 600)
    daemon.run_once()
    clock.travel(61)
    daemon.run_once()
    assert directory.is_member(ADMINS_GROUP, AccountRef("alice"))
    assert cast.client.receipt(short, Action.REMOVE_MEMBER).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    assert json.loads(daemon.journal.evidence(short, Action.REMOVE_MEMBER) or "")["observed"] == {
        "kept_for_grants": [long],
        "membership": "kept",
    }
    clock.travel(600)
    daemon.run_once()
    assert not directory.is_member(ADMINS_GROUP, AccountRef("alice"))


def test_lost_journal__rebuilt__old_unlock_not_reapplied_ended_grant_ensured_absent(
    cast: Cast, tmp_path: Path
) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    unlock = cast.as_(cast.alice).request_unlock()
    grant = _grant(cast, 600)
    daemon.run_once()
    cast.as_(cast.alice).revoke(grant)
    daemon.run_once()
    assert cast.client.receipt(unlock, Action.UNLOCK) is not None
    assert cast.client.receipt(grant, Action.REMOVE_MEMBER) is not None
    daemon.journal.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"journal.sqlite3{suffix}").unlink(missing_ok=True)
    lock_out(directory, "alice")
    directory.add_member(ADMINS_GROUP, AccountRef("alice"))  # put back by hand meanwhile
    receipts = len(
        [e for e in cast.client.events(cast.deployment_block) if type(e).__name__ == "ReceiptPosted"]
    )
    rebuilt, _ = build(cast, tmp_path, directory)
    rebuilt.run_once()
    assert directory.is_locked(AccountRef("alice"))  # history not replayed
    assert not directory.is_member(ADMINS_GROUP, AccountRef("alice"))  # ended grant: ensure absent
    after = len([e for e in cast.client.events(cast.deployment_block) if type(e).__name__ == "ReceiptPosted"])
    assert after == receipts
    assert rebuilt.journal.count("pending") == 0 and rebuilt.journal.count("applied") == 0


def test_journal_of_an_older_oracle__columns_added_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE actions (request_id INTEGER NOT NULL, action INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " subject BLOB NOT NULL, target BLOB NOT NULL, domain BLOB NOT NULL, payload_hash BLOB NOT NULL,"
        " expiry INTEGER NOT NULL, state TEXT NOT NULL, outcome INTEGER, detail_hash BLOB,"
        " attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0, receipt_tx TEXT,"
        " updated REAL NOT NULL, PRIMARY KEY (request_id, action));"
        "INSERT INTO actions VALUES (7, 1, 1, x'01', x'02', x'03', x'', 0, 'pending', NULL, NULL, 0, 0, NULL, 0);"
    )
    db.commit()
    db.close()
    journal = Journal(path)
    entry = journal.get(7, Action.UNLOCK)
    assert entry is not None and entry.state == "pending" and not entry.alarmed
    assert [e.action.request_id for e in journal.due("pending", 1.0)] == [7]
    journal.close()


def test_unknown_group_target__only_that_action_fails(cast: Cast, tmp_path: Path) -> None:
    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    daemon.executor.groups = StaticIdMap()  # the configuration lost the group table
    grant = _grant(cast, 600)
    unlock = cast.as_(cast.bob).request_unlock()
    daemon.run_once()
    assert cast.client.receipt(grant, Action.ADD_MEMBER).outcome is Outcome.FAILED  # type: ignore[union-attr]
    assert cast.client.receipt(unlock, Action.UNLOCK).outcome is Outcome.APPLIED  # type: ignore[union-attr]
    assert directory_id("bob")  # the unlock went through for its own subject


def test_journal_restored_from_an_old_backup__later_actions_not_reapplied(cast: Cast, tmp_path: Path) -> None:
    from pamchain.sdk.backup import Part, create, restore

    directory = MemoryDirectory()
    daemon, _ = build(cast, tmp_path, directory)
    first = cast.as_(cast.alice).request_unlock()
    daemon.run_once()
    archive = tmp_path / "oracle.tar.gz"
    create([Part("oracle-journal", tmp_path / "journal.sqlite3")], archive)  # online, the daemon still runs
    lock_out(directory, "bob")
    later = cast.as_(cast.bob).request_unlock()  # applied after the backup was taken
    daemon.run_once()
    assert cast.client.receipt(later, Action.UNLOCK) is not None
    daemon.journal.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"journal.sqlite3{suffix}").unlink(missing_ok=True)  # the host's disk is lost
    restore(archive, {"oracle-journal": tmp_path / "journal.sqlite3"})
    lock_out(directory, "bob")  # bob locked out again since: replaying the old unlock would free him
    recovered, _ = build(cast, tmp_path, directory)
    recovered.run_once()
    assert directory.is_locked(AccountRef("bob"))
    keys = [
        (e.request_id, e.action)
        for e in cast.client.events(cast.deployment_block)
        if isinstance(e, ReceiptPosted)
    ]
    assert sorted(keys) == sorted([(first, Action.UNLOCK), (later, Action.UNLOCK)])
    assert recovered.journal.get(later, Action.UNLOCK).state == "reported"  # type: ignore[union-attr]


def test_password_history__last_entries_kept_oldest_forgotten(tmp_path: Path) -> None:
    from pamchain.sdk.oracle.password_history import PasswordHistory

    journal = Journal(tmp_path / "j.sqlite3")
    history = PasswordHistory(journal, keep=3)
    guid = b"\x01" * 16
    for n in range(4):
        history.remember(guid, f"Password-Number-{n}!")
    assert not history.used_recently(guid, "Password-Number-0!")  # fell out of the last 3
    assert all(history.used_recently(guid, f"Password-Number-{n}!") for n in (1, 2, 3))
    assert not history.used_recently(b"\x02" * 16, "Password-Number-3!")  # per account
    stored = journal.password_digests(guid)
    assert len(stored) == 3 and all(b"Password" not in salt + digest for salt, digest in stored)
    journal.close()
