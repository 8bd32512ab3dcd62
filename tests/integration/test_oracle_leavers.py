"""Leavers on a real node and a real Samba AD DC (issue 16 item 2): an administrator disables an enrolled
person's account, or moves it to the leavers OU, and the oracle's report suspends the principal under the
domain's rule; the grant ends and the membership goes, all within a stated time.

The oracle runs its real loop (removal thread and its own LDAP connection included) with a leaver pass every
``LEAVERS_INTERVAL`` seconds; the test measures from the LDAP modify to the suspension on chain and to the
membership gone from AD, and bounds both by the interval plus a margin for a loaded 2-core machine.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
from pamchain.sdk.chain.events import GenericEvent, LeaverReported
from pamchain.sdk.chain.model import Action, LeaverReason, Outcome, PrincipalStatus
from pamchain.sdk.directory import AccountRef
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.oracle.daemon import OracleDaemon

from support.world import DOMAIN, directory_id

from .oracle_world import Suite, World, make_oracle, running, tick_until, wait_for
from .oracle_world import grant as make_grant

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("suite", ["pamchain"], indirect=True)]

LEAVERS_INTERVAL = 1.0  # seconds between leaver passes in these tests (60 by default)
# Disable -> suspended: at most one leaver pass, one transaction sealed on demand, one poll to see it final.
# Suspended -> membership gone: one poll (GrantEnded final) and one LDAP modify with its read-back. The margin
# is for a shared, loaded 2-core machine; the measured figures are printed (run with -s) and in docs/oracle.md.
BOUND = LEAVERS_INTERVAL + 15.0


def _auto_suspend(suite: Suite) -> None:
    """The council decides in advance: a leaver report on the domain suspends (two of three members)."""
    if suite.client.leaver_auto_suspend(DOMAIN):
        return
    proposed = suite.as_("c1").set_leaver_rule(DOMAIN, True)
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposed.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    suite.as_("c2").approve_proposal(proposal_id)
    assert suite.client.leaver_auto_suspend(DOMAIN)


def _oracle(
    suite: Suite, world: World, directory: LdapDirectory, tmp_path: Path, **options: object
) -> OracleDaemon:
    return make_oracle(
        suite,
        world,
        directory,
        tmp_path,
        leavers_interval=LEAVERS_INTERVAL,
        removal_directory=LdapDirectory(directory.config),
        **options,
    )


def _leaver_reports(suite: Suite, subject: bytes) -> list[LeaverReported]:
    return [
        e
        for e in suite.client.events(suite.deployment_block)
        if isinstance(e, LeaverReported) and e.directory_id == subject
    ]


def _cut_off(
    suite: Suite,
    world: World,
    directory: LdapDirectory,
    daemon: OracleDaemon,
    name: str,
    leave: Callable[[], None],
) -> tuple[int, float, float]:
    """Give ``name`` a live grant, make them leave in AD, and time what follows; returns the grant and the
    seconds to the suspension on chain and to the membership gone from AD."""
    subject = directory_id(name)
    assert suite.client.principal(subject).status is PrincipalStatus.ACTIVE
    rid = make_grant(suite, name, 600)
    tick_until(daemon, lambda: directory.is_member(world.group_ref, world.ref(name)))
    with running(daemon, 0.1):
        t0 = time.monotonic()
        leave()
        suspended = wait_for(
            lambda: suite.client.principal(subject).status is PrincipalStatus.SUSPENDED, what="suspension"
        )
        removed = wait_for(lambda: not directory.is_member(world.group_ref, world.ref(name)), what="removal")
        wait_for(lambda: suite.client.receipt(rid, Action.REMOVE_MEMBER) is not None, what="removal receipt")
    receipt = suite.client.receipt(rid, Action.REMOVE_MEMBER)
    assert receipt is not None and receipt.outcome is Outcome.APPLIED
    assert not suite.client.is_active(rid)
    return rid, suspended - t0, removed - t0


def test_disabled_account__principal_suspended_and_membership_gone(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    _auto_suspend(suite)
    daemon = _oracle(suite, world, ldap_directory, tmp_path)
    alice = world.ref("alice")
    _, to_suspended, to_removed = _cut_off(
        suite, world, ldap_directory, daemon, "alice", lambda: ldap_directory.set_enabled(alice, False)
    )
    print(
        f"\nleaver (disabled): suspended on chain after {to_suspended:.2f} s, out of AD after {to_removed:.2f} s"
    )
    assert to_suspended <= BOUND and to_removed <= BOUND
    [report] = _leaver_reports(suite, directory_id("alice"))
    assert (report.reason, report.suspended, report.oracle) == (
        LeaverReason.DISABLED,
        True,
        suite.oracle.address,
    )
    ended = [
        e
        for e in suite.client.events(report.at.block_number, report.at.block_number)
        if isinstance(e, GenericEvent) and e.event == "PrincipalSuspended"
    ]
    assert [e.args["by"] for e in ended] == [suite.oracle.address]
    assert not ldap_directory.account(
        alice
    ).enabled  # the oracle reports; it never touches the account itself


def test_moved_to_leavers_ou__principal_suspended_and_membership_gone(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    _auto_suspend(suite)
    ou = ldap_directory.create_ou(f"Leavers-{secrets.token_hex(4)}")
    bob = world.ref("bob")
    moved: list[str] = []
    try:
        daemon = _oracle(suite, world, ldap_directory, tmp_path, leavers_ou=ou)
        _, to_suspended, to_removed = _cut_off(
            suite, world, ldap_directory, daemon, "bob", lambda: moved.append(ldap_directory.move(bob, ou))
        )
        print(
            f"\nleaver (leavers OU): suspended on chain after {to_suspended:.2f} s, out of AD after {to_removed:.2f} s"
        )
        assert to_suspended <= BOUND and to_removed <= BOUND
        [report] = _leaver_reports(suite, directory_id("bob"))
        assert report.reason is LeaverReason.LEAVERS_OU
        assert ldap_directory.account(AccountRef("moved", bob.object_guid)).dn.lower().endswith(ou.lower())
    finally:
        for dn in [*moved, ou]:  # the AD fixture deletes objects by the DN they were created under
            with suppress(Exception):
                ldap_directory.delete(dn)
