"""Leavers: an oracle of the principal's domain reports an AD account that left; the domain's rule decides."""

import boa
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from pamkit import (
    DOMAIN,
    END_EXPIRED,
    END_SUSPENDED,
    ENDED,
    HOUR,
    OTHER_DOMAIN,
    P_ACTIVE,
    P_SUSPENDED,
    ZERO32,
    World,
    events,
    h,
    one_event,
)

ALICE = World.id("alice")
DAVE = World.id("dave")  # enrolled in OTHER_DOMAIN
DISABLED, DELETED, LEAVERS_OU = 1, 2, 3
ALARM_LEAVER = 5
DC1 = h("dc1")


@pytest.fixture
def auto_suspend(pam, world):
    """DOMAIN's rule: a leaver report suspends (set by the bootstrapper)."""
    with boa.env.prank(world.deployer):
        pam.set_leaver_rule(DOMAIN, True)
    return pam


def _report(pam, sender, directory_id=ALICE, reason=DISABLED, dc_id=DC1):
    with boa.env.prank(sender):
        pam.report_leaver(directory_id, reason, dc_id)


def test_constants(pam):
    assert (pam.LEAVER_DISABLED(), pam.LEAVER_DELETED(), pam.LEAVER_LEAVERS_OU()) == (1, 2, 3)
    assert pam.ALARM_LEAVER() == ALARM_LEAVER


def test_set_leaver_rule__logs_and_reads_back(pam, world):
    assert not pam.leaver_auto_suspend(DOMAIN)
    with boa.env.prank(world.deployer):
        pam.set_leaver_rule(DOMAIN, True)
    rule = one_event(pam, "LeaverRuleSet")
    assert (rule.domain, rule.auto_suspend) == (DOMAIN, True)
    assert pam.leaver_auto_suspend(DOMAIN) and not pam.leaver_auto_suspend(OTHER_DOMAIN)
    with boa.env.prank(world.deployer):
        pam.set_leaver_rule(DOMAIN, False)
    assert one_event(pam, "LeaverRuleSet").auto_suspend is False
    assert not pam.leaver_auto_suspend(DOMAIN)


def test_set_leaver_rule__by_proposal(council, governed, act):
    act.govern(act.proposal(governed, "set_leaver_rule", DOMAIN, True))
    assert one_event(council, "LeaverRuleSet", by=governed).domain == DOMAIN
    assert governed.leaver_auto_suspend(DOMAIN)


def test_set_leaver_rule__zero_domain__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("leavers: zero domain"):
        pam.set_leaver_rule(ZERO32, True)


def test_set_leaver_rule__council_member_alone__reverts(pam, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        pam.set_leaver_rule(DOMAIN, True)


@pytest.mark.parametrize("reason", [DISABLED, DELETED, LEAVERS_OU])
def test_report_leaver__auto_suspend__suspends_and_ends_every_grant(auto_suspend, act, world, reason):
    pam = auto_suspend
    grants = [act.grant(duration=2 * HOUR) for _ in range(2)]
    short = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR)  # `short` is past expiry but not recorded ended
    _report(pam, world.oracle, reason=reason)
    reported = one_event(pam, "LeaverReported")
    assert (reported.directory_id, reported.domain, reported.oracle, reported.reason, reported.dc_id) == (
        ALICE,
        DOMAIN,
        world.oracle,
        reason,
        DC1,
    )
    assert reported.suspended is True
    alarm = one_event(pam, "Alarm")
    assert (alarm.kind, alarm.domain, alarm.request_id, alarm.target, alarm.subject, alarm.detail) == (
        ALARM_LEAVER,
        DOMAIN,
        0,
        reason.to_bytes(32, "big"),
        ALICE,
        DC1,
    )
    # The suspension is told apart from a council member's by who did it: the oracle.
    suspended = one_event(pam, "PrincipalSuspended")
    assert (suspended.directory_id, suspended.by) == (ALICE, world.oracle)
    ended = events(pam, "GrantEnded")
    assert {(e.request_id, e.reason) for e in ended} == {(g, END_SUSPENDED) for g in grants} | {
        (short, END_EXPIRED)
    }
    assert all(e.by == world.oracle and e.subject == ALICE for e in ended)
    assert all(pam.status_of(g) == ENDED for g in grants)
    assert pam.active_grants(ALICE) == []
    assert pam.principal(ALICE).status == P_SUSPENDED


def test_report_leaver__suspension_voids_pending_approvals(auto_suspend, act, world):
    request_id = act.elevate()
    _report(auto_suspend, world.oracle)
    with act.as_("bob"), boa.reverts("requests: requester not active"):
        auto_suspend.approve(request_id)


def test_report_leaver__rule_off__alarm_only(pam, act, world):
    grant = act.grant()
    _report(pam, world.oracle, reason=LEAVERS_OU)
    reported = one_event(pam, "LeaverReported")
    assert (reported.reason, reported.suspended) == (LEAVERS_OU, False)
    assert one_event(pam, "Alarm").kind == ALARM_LEAVER
    assert events(pam, "PrincipalSuspended") == [] and events(pam, "GrantEnded") == []
    assert pam.principal(ALICE).status == P_ACTIVE
    assert pam.is_active(grant)


def test_report_leaver__rule_is_per_domain(auto_suspend, world):
    _report(auto_suspend, world.other_oracle, directory_id=DAVE)
    assert one_event(auto_suspend, "LeaverReported").suspended is False
    assert auto_suspend.principal(DAVE).status == P_ACTIVE


def test_report_leaver__second_oracle__harmless(auto_suspend, act, world):
    pam = auto_suspend
    second = boa.env.generate_address("second_oracle")
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, second, h("x25519:corp"))
    act.grant()
    _report(pam, world.oracle)
    _report(pam, second, reason=DELETED)  # the first report wins; the second changes and logs nothing
    assert pam.get_logs() == []
    assert pam.principal(ALICE).status == P_SUSPENDED


def test_report_leaver__already_suspended_by_council__no_op(pam, world):
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    generation = pam.generation(ALICE)
    _report(pam, world.oracle)
    assert pam.get_logs() == []
    assert pam.generation(ALICE) == generation


def test_report_leaver__after_reinstatement__suspends_again(auto_suspend, world):
    pam = auto_suspend
    _report(pam, world.oracle)
    with boa.env.prank(world.deployer):
        pam.reinstate(ALICE)
    _report(pam, world.oracle, reason=LEAVERS_OU)
    assert one_event(pam, "LeaverReported").reason == LEAVERS_OU
    assert pam.principal(ALICE).status == P_SUSPENDED


@pytest.mark.parametrize("who", ["stranger", "device", "council member", "operator", "deployer"])
def test_report_leaver__not_oracle__reverts(auto_suspend, world, who):
    sender = {
        "stranger": world.stranger,
        "device": world.devices["bob"],
        "council member": world.council[0],
        "operator": world.operator,
        "deployer": world.deployer,
    }[who]
    with boa.reverts("oracles: not oracle"):
        _report(auto_suspend, sender)
    assert auto_suspend.principal(ALICE).status == P_ACTIVE


def test_report_leaver__other_domains_oracle__reverts(auto_suspend, world):
    with boa.reverts("oracles: not oracle"):
        _report(auto_suspend, world.other_oracle)
    with boa.reverts("oracles: not oracle"):
        _report(auto_suspend, world.oracle, directory_id=DAVE)


def test_report_leaver__removed_oracle__reverts(auto_suspend, world):
    with boa.env.prank(world.deployer):
        auto_suspend.remove_oracle(DOMAIN, world.oracle)
    with boa.reverts("oracles: not oracle"):
        _report(auto_suspend, world.oracle)


def test_report_leaver__oracle_role_withdrawn__reverts(auto_suspend, world):
    with boa.env.prank(world.deployer):
        auto_suspend.set_roles(world.oracle, 0)  # the kill switch
    with boa.reverts("roles: missing role"):
        _report(auto_suspend, world.oracle)


def test_report_leaver__unknown_principal__reverts(auto_suspend, world):
    with boa.reverts("leavers: unknown principal"):
        _report(auto_suspend, world.oracle, directory_id=World.id("nobody"))


@pytest.mark.parametrize("reason", [0, 4, 255])
def test_report_leaver__bad_reason__reverts(auto_suspend, world, reason):
    with boa.reverts("leavers: bad reason"):
        _report(auto_suspend, world.oracle, reason=reason)


# One step: set DOMAIN's rule, grant alice an elevation, reinstate her (governed), or an oracle reports her.
leaver_ops = st.lists(
    st.one_of(
        st.tuples(st.just("rule"), st.booleans()),
        st.tuples(st.just("grant"), st.just(None)),
        st.tuples(st.just("reinstate"), st.just(None)),
        st.tuples(st.just("report"), st.sampled_from([DISABLED, DELETED, LEAVERS_OU])),
    ),
    max_size=12,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=leaver_ops)
def test_report_leaver__property__never_reverts_and_the_rule_decides(pam, act, world, ops):
    """For any sequence, a report by the domain's oracle never reverts; it suspends exactly when the
    principal is ACTIVE and the rule says so, and then no grant of the principal stays live."""
    with boa.env.anchor():
        rule = False
        for op, arg in ops:
            status = pam.principal(ALICE).status
            if op == "rule":
                with boa.env.prank(world.deployer):
                    pam.set_leaver_rule(DOMAIN, arg)
                rule = arg
            elif op == "grant" and status == P_ACTIVE and len(pam.active_grants(ALICE)) < 4:
                act.grant()
            elif op == "reinstate" and status == P_SUSPENDED:
                with boa.env.prank(world.deployer):
                    pam.reinstate(ALICE)
            elif op == "report":
                live = pam.active_grants(ALICE)
                _report(pam, world.oracle, reason=arg)
                logs = pam.get_logs()  # before any view call replaces them
                logged = [e for e in logs if type(e).__name__ == "LeaverReported"]
                ended = {e.request_id for e in logs if type(e).__name__ == "GrantEnded"}
                if status != P_ACTIVE:
                    assert logs == [] and pam.principal(ALICE).status == status
                    continue
                assert len(logged) == 1 and logged[0].suspended is rule
                if rule:
                    assert pam.principal(ALICE).status == P_SUSPENDED
                    assert pam.active_grants(ALICE) == []
                    assert ended == set(live)
                else:
                    assert pam.principal(ALICE).status == P_ACTIVE
                    assert pam.active_grants(ALICE) == live
