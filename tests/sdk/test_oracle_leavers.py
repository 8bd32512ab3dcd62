"""Leavers (issue 16 item 2): the oracle finds principals whose AD account was disabled, deleted or moved to the
leavers OU, reports each once on chain, and the domain's leaver rule suspends them; memberships then go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from pamchain.sdk.chain.audit import audit_rows
from pamchain.sdk.chain.client import PamClient, TxResult
from pamchain.sdk.chain.events import Alarm, GenericEvent, GrantEnded, LeaverReported
from pamchain.sdk.chain.model import Action, AlarmKind, EndReason, LeaverReason, Outcome, PrincipalStatus
from pamchain.sdk.directory import (
    AccountRef,
    ChainedResolver,
    GroupRef,
    HmacGuidResolver,
    StaticIdMap,
    pseudonymous_id,
)
from pamchain.sdk.directory.memory import MemoryDirectory
from pamchain.sdk.notify.messages import Notification, subject_line
from pamchain.sdk.notify.routing import Router
from pamchain.sdk.oracle.daemon import OracleDaemon
from pamchain.sdk.oracle.leavers import under

from support.world import ADMINS, DOMAIN, Cast, directory_id

from .test_oracle import ADMINS_DN, DC1, GOOD_PASSWORD, PSEUDONYM_KEY, build

ALICE = directory_id("alice")
LEAVERS_OU = "OU=Leavers,DC=pamchain,DC=test"


def govern(cast: Cast, fn: str, *args: Any) -> None:
    """A governed change through the council: proposed by one member, executed by a second's approval."""
    proposed = cast.as_(cast.council[0]).propose(fn, *args)
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposed.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    cast.as_(cast.council[1]).approve_proposal(proposal_id)


def leaver_events(cast: Cast) -> list[LeaverReported]:
    return [e for e in cast.client.events(cast.deployment_block) if isinstance(e, LeaverReported)]


def start(
    cast: Cast, tmp_path: Path, *, auto_suspend: bool = True, **options: object
) -> tuple[OracleDaemon, MemoryDirectory]:
    """The domain's leaver rule set, an oracle with a leaver pass every tick and alice, bob, carol in AD."""
    if auto_suspend:
        govern(cast, "set_leaver_rule", DOMAIN, True)
    directory = MemoryDirectory()
    settings: dict[str, object] = {"leavers_interval": 0.0, **options}
    daemon, _ = build(cast, tmp_path, directory, **settings)
    return daemon, directory


def granted(cast: Cast, daemon: OracleDaemon, directory: MemoryDirectory) -> int:
    """Alice holds Domain Admins through a live grant, and AD shows it."""
    rid = cast.as_(cast.alice).request_elevation(ADMINS, 600, "maintenance")
    cast.as_(cast.bob).approve(rid)
    cast.as_(cast.carol).approve(rid)
    daemon.run_once()
    assert directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    return rid


def test_rule__set_by_the_council_and_read_back(cast: Cast) -> None:
    assert cast.client.leaver_auto_suspend(DOMAIN) is False
    govern(cast, "set_leaver_rule", DOMAIN, True)
    assert cast.client.leaver_auto_suspend(DOMAIN) is True


def test_disabled__suspended_grant_ended_membership_removed(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path)
    rid = granted(cast, daemon, directory)
    directory.set_enabled(AccountRef("alice"), False)
    tick = daemon.run_once()  # the leaver pass reports; the suspension and the grant's end are on chain
    assert tick.leavers == 1
    assert cast.client.principal(ALICE).status is PrincipalStatus.SUSPENDED
    assert not cast.client.is_active(rid)
    [reported] = leaver_events(cast)
    assert (reported.directory_id, reported.reason, reported.suspended) == (
        ALICE,
        LeaverReason.DISABLED,
        True,
    )
    assert (reported.domain, reported.dc_id, reported.oracle) == (DOMAIN, DC1, cast.oracle.address)
    events = cast.client.events(reported.at.block_number, reported.at.block_number)
    [suspended] = [e for e in events if isinstance(e, GenericEvent) and e.event == "PrincipalSuspended"]
    assert suspended.args["by"] == cast.oracle.address  # told apart from a council member's suspension
    [alarm] = [e for e in events if isinstance(e, Alarm)]
    assert (alarm.kind, alarm.subject, alarm.detail) == (AlarmKind.LEAVER, ALICE, DC1)
    assert int.from_bytes(alarm.target, "big") == LeaverReason.DISABLED
    ended = cast.client.request(rid)
    assert ended.status.name == "ENDED"
    daemon.run_once()  # the next tick follows GrantEnded(SUSPENDED): the removal lane takes alice out
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    removal = cast.client.receipt(rid, Action.REMOVE_MEMBER)
    assert removal is not None and removal.outcome is Outcome.APPLIED
    ends = [e for e in cast.client.events(cast.deployment_block) if isinstance(e, GrantEnded)]
    assert [e.reason for e in ends] == [EndReason.SUSPENDED]


def test_deleted__bound_account_gone__reported(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path)
    daemon.run_once()  # first sight: alice's id is pinned to her objectGUID
    dn = directory.account(AccountRef("alice")).dn
    directory.delete(dn)
    directory.create_user("alice", GOOD_PASSWORD)  # a newcomer given the name is not the principal
    daemon.run_once()
    [reported] = leaver_events(cast)
    assert reported.reason is LeaverReason.DELETED
    assert cast.client.principal(ALICE).status is PrincipalStatus.SUSPENDED


def test_moved_to_leavers_ou__reported(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path, leavers_ou=LEAVERS_OU)
    rid = granted(cast, daemon, directory)
    directory.move(AccountRef("alice"), directory.create_ou("Leavers"))
    daemon.run_once()
    [reported] = leaver_events(cast)
    assert reported.reason is LeaverReason.LEAVERS_OU
    daemon.run_once()
    assert not directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))
    assert cast.client.receipt(rid, Action.REMOVE_MEMBER) is not None


def test_moved_elsewhere__not_a_leaver(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path, leavers_ou=LEAVERS_OU)
    directory.move(AccountRef("alice"), "OU=Staff,DC=pamchain,DC=test")
    directory.move(AccountRef("bob"), "OU=Leavers Archive,DC=pamchain,DC=test")  # a name prefix is not under
    assert daemon.run_once().leavers == 0
    assert leaver_events(cast) == []


def test_reported_once__re_enabled__reported_again(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path, auto_suspend=False)  # alarm only: alice stays ACTIVE
    rid = granted(cast, daemon, directory)
    directory.set_enabled(AccountRef("alice"), False)
    for _ in range(3):
        assert daemon.run_once().leavers == 1
    [reported] = leaver_events(cast)
    assert reported.suspended is False
    assert cast.client.principal(ALICE).status is PrincipalStatus.ACTIVE and cast.client.is_active(rid)
    assert directory.is_member(GroupRef(ADMINS_DN), AccountRef("alice"))  # the rule said: alarm only
    assert daemon.status()["leavers_reported"] == 1
    directory.set_enabled(AccountRef("alice"), True)
    assert daemon.run_once().leavers == 0
    assert daemon.status()["leavers_reported"] == 0  # forgotten: a later departure counts again
    directory.set_enabled(AccountRef("alice"), False)
    daemon.run_once()
    daemon.run_once()
    assert [e.reason for e in leaver_events(cast)] == [LeaverReason.DISABLED, LeaverReason.DISABLED]


def test_already_suspended__recorded_without_a_transaction(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path)
    cast.as_(cast.council[0]).suspend(ALICE)
    directory.set_enabled(AccountRef("alice"), False)
    head = cast.w3.eth.block_number
    daemon.run_once()
    assert leaver_events(cast) == [] and cast.w3.eth.block_number == head
    assert daemon.journal.leaver_reported(ALICE)


def test_two_oracles__first_report_wins(cast: Cast, tmp_path: Path) -> None:
    from .test_oracle import _second_oracle

    second = _second_oracle(cast)
    daemon, directory = start(cast, tmp_path / "a")
    other, _ = build(cast, tmp_path / "b", directory, oracle=second, leavers_interval=0.0)
    directory.set_enabled(AccountRef("alice"), False)
    daemon.run_once()
    other.run_once()  # the principal is suspended already: nothing sent
    assert len(leaver_events(cast)) == 1
    assert other.journal.leaver_reported(ALICE)
    # Had it raced (both checked before either report was mined), its report would be a no-op on chain.
    result = cast.as_(second).report_leaver(ALICE, LeaverReason.DISABLED, DC1)
    assert result.events == ()


def test_unknown_or_unresolvable_accounts__never_reported(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path)
    directory.delete(directory.account(AccountRef("carol")).dn)  # never seen by the oracle: cannot be judged
    assert daemon.run_once().leavers == 0
    assert leaver_events(cast) == []


def test_chain_unreachable__found_then_reported_when_back(cast: Cast, tmp_path: Path) -> None:
    from web3 import Web3

    daemon, directory = start(cast, tmp_path)
    directory.set_enabled(AccountRef("alice"), False)
    now = daemon.clock()
    real = daemon.client.w3.provider
    daemon.client.w3.provider = Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 0.5})
    daemon.clock = daemon.executor.clock = lambda: now  # the chain clock is gone with the chain
    tick = daemon.run_once()
    assert not tick.chain_reachable and tick.leavers == 1
    daemon.client.w3.provider = real
    assert leaver_events(cast) == []
    daemon.run_once()
    assert len(leaver_events(cast)) == 1


def test_enrolled_on_chain_under_hmac_id__watched_without_static_entry(cast: Cast, tmp_path: Path) -> None:
    govern(cast, "set_leaver_rule", DOMAIN, True)
    directory = MemoryDirectory()
    dave = directory.create_user("dave", GOOD_PASSWORD)
    dave_id = pseudonymous_id(PSEUDONYM_KEY, dave.object_guid)
    device = Account.from_key(keccak(text="dave's phone"))
    govern(cast, "enrol", device.address, dave_id, DOMAIN)
    resolver = ChainedResolver(StaticIdMap(), HmacGuidResolver(PSEUDONYM_KEY, min_refresh=0))
    daemon, _ = build(cast, tmp_path, directory, leavers_interval=0.0, resolver=resolver)
    daemon.run_once()  # the follower journals dave's enrolment
    assert dave_id in daemon.journal.watched_principals()
    directory.set_enabled(dave.ref, False)
    daemon.run_once()
    [reported] = leaver_events(cast)
    assert reported.directory_id == dave_id
    assert cast.client.principal(dave_id).status is PrincipalStatus.SUSPENDED


def test_leaver_pass_interval__not_every_tick(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path, leavers_interval=60.0)
    daemon.run_once()
    directory.set_enabled(AccountRef("alice"), False)
    assert daemon.run_once().leavers == 0  # not due yet
    daemon.clock = lambda: 10.0**10  # much later
    assert daemon.run_once().leavers == 1


def test_leaver_pass_off(cast: Cast, tmp_path: Path) -> None:
    daemon, directory = start(cast, tmp_path, leavers_interval=None)
    directory.set_enabled(AccountRef("alice"), False)
    assert daemon.run_once().leavers == 0 and leaver_events(cast) == []


def test_under__compares_as_ad_does() -> None:
    assert under("CN=a,OU=Leavers,DC=x", "ou=leavers, dc=X")
    assert under("CN=a,OU=2024,OU=Leavers,DC=x", "OU=Leavers,DC=x")
    assert not under("OU=Leavers,DC=x", "OU=Leavers,DC=x")
    assert not under("CN=a,OU=Old Leavers,DC=x", "OU=Leavers,DC=x")
    assert not under("CN=a\\,OU=Leavers,DC=x", "OU=Leavers,DC=x")  # an escaped comma: one RDN
    assert under("CN=a\\\\,OU=Leavers,DC=x", "OU=Leavers,DC=x")  # an escaped backslash, then a comma


def test_audit_row_and_alarm_notice(cast: Cast, tmp_path: Path) -> None:
    govern(cast, "set_leaver_rule", DOMAIN, False)
    result: TxResult = cast.as_(cast.oracle).report_leaver(ALICE, LeaverReason.LEAVERS_OU, DC1)
    rows = audit_rows(result.events, cast.client)
    leaver = next(r for r in rows if r.event == "LeaverReported")
    assert leaver.category == "leaver"
    assert leaver.details["reason"] == "LEAVERS_OU" and leaver.details["suspended"] is False
    alarm = result.first(Alarm)
    router = Router(
        PamClient(cast.w3, cast.client.address), officers=["soc"], targets={}, known_request=lambda _: None
    )
    [notice] = router.notices(alarm)
    assert notice.fields == {
        "alarm": "LEAVER",
        "alarm_kind": 5,
        "reason": "LEAVERS_OU",
        "subject": "0x" + ALICE.hex(),
        "dc": "DC1",
    }
    mail = Notification("id", notice.event_id, notice.kind, "soc", "email", notice.fields)
    assert subject_line(mail) == "[pamchain] ALARM LEAVER (LEAVERS_OU, DC1)"


def test_config__leavers_settings(tmp_path: Path) -> None:
    from pamchain.sdk.errors import ConfigError
    from pamchain.sdk.oracle.config import OracleConfig

    base: dict[str, dict[str, Any]] = {
        "chain": {"rpc_url": "http://127.0.0.1:8545", "deployment": "d.json"},
        "oracle": {"keystore": "k.json", "domain": "corp.example", "dc_id": "DC1"},
    }
    config = OracleConfig.from_dict(base, base=tmp_path)
    assert (config.watch_leavers, config.leavers_interval, config.leavers_ou) == (True, 60.0, None)
    base["oracle"] |= {"leavers_interval": 5, "leavers_ou": LEAVERS_OU, "watch_leavers": False}
    config = OracleConfig.from_dict(base, base=tmp_path)
    assert (config.watch_leavers, config.leavers_interval, config.leavers_ou) == (False, 5.0, LEAVERS_OU)
    for bad in ({"leavers_ou": "Leavers"}, {"leavers_interval": -1}):
        with pytest.raises(ConfigError):
            OracleConfig.from_dict({**base, "oracle": {**base["oracle"], **bad}}, base=tmp_path)
