"""Receipts and drift reports: only an oracle of the domain, once per (request, action), matching the request."""

import boa
import pytest
from pamkit import (
    A_ADD_MEMBER,
    A_REMOVE_MEMBER,
    A_RESET_PASSWORD,
    A_UNLOCK,
    ALARM_DRIFT,
    ALARM_REMOVAL_LATE,
    APPLIED,
    DOMAIN,
    ENC_KEY,
    FAILED,
    FULFILLED,
    GROUP,
    HOUR,
    ORACLE_ROLE,
    OTHER_DOMAIN,
    OTHER_ENC_KEY,
    OUTCOME_FAILED,
    ZERO32,
    ZERO_ADDRESS,
    World,
    h,
    one_event,
)


def test_post_receipt__unlock_applied__fulfilled(pam, act, world):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    act.receipt(request_id, A_UNLOCK)
    posted = one_event(pam, "ReceiptPosted")
    assert (posted.request_id, posted.action, posted.outcome, posted.domain) == (
        request_id,
        A_UNLOCK,
        APPLIED,
        DOMAIN,
    )
    assert (posted.detail_hash, posted.dc_id, posted.oracle) == (h("detail"), h("dc1"), world.oracle)
    assert pam.status_of(request_id) == FULFILLED
    assert pam.receipt(request_id, A_UNLOCK) == (
        APPLIED,
        h("detail"),
        h("dc1"),
        world.oracle,
        boa.env.timestamp,
    )


def test_post_receipt__password_failed__failed(pam, act):
    request_id = act.password_reset()
    act.approve(request_id, "bob")
    act.receipt(request_id, A_RESET_PASSWORD, OUTCOME_FAILED)
    assert one_event(pam, "ReceiptPosted").outcome == OUTCOME_FAILED
    assert pam.status_of(request_id) == FAILED


def test_post_receipt__elevation_add_then_remove_after_expiry(pam, act):
    request_id = act.grant(duration=HOUR)
    act.receipt(request_id, A_ADD_MEMBER)
    assert one_event(pam, "ReceiptPosted").action == A_ADD_MEMBER
    boa.env.time_travel(seconds=HOUR)
    act.receipt(request_id, A_REMOVE_MEMBER)  # nobody called end_expired
    assert one_event(pam, "ReceiptPosted").action == A_REMOVE_MEMBER
    assert pam.receipt(request_id, A_REMOVE_MEMBER).outcome == APPLIED


def test_post_receipt__remove_after_revoke(pam, act):
    request_id = act.grant()
    with act.as_("alice"):
        pam.revoke(request_id)
    act.receipt(request_id, A_REMOVE_MEMBER)
    assert one_event(pam, "ReceiptPosted").request_id == request_id


@pytest.mark.parametrize("who", ["stranger", "council", "alice"])
def test_post_receipt__not_oracle__reverts(pam, act, world, who):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    sender = {"stranger": world.stranger, "council": world.council[0], "alice": world.devices["alice"]}[who]
    with boa.reverts("oracles: not oracle"):
        act.receipt(request_id, A_UNLOCK, sender=sender)


def test_post_receipt__oracle_of_other_domain__reverts(pam, act, world):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with boa.reverts("oracles: not oracle"):
        act.receipt(request_id, A_UNLOCK, sender=world.other_oracle)


def test_post_receipt__oracle_role_withdrawn__reverts(pam, act, world):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with boa.env.prank(world.deployer):
        pam.set_roles(world.oracle, 0)
    with boa.reverts("roles: missing role"):
        act.receipt(request_id, A_UNLOCK)


def test_post_receipt__removed_oracle__reverts(pam, act, world):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, world.other_oracle, ENC_KEY)
        pam.remove_oracle(DOMAIN, world.oracle)
    with boa.reverts("oracles: not oracle"):
        act.receipt(request_id, A_UNLOCK)
    act.receipt(request_id, A_UNLOCK, sender=world.other_oracle)
    assert one_event(pam, "ReceiptPosted").oracle == world.other_oracle


def test_post_receipt__removed_oracle_serving_another_domain__reverts(pam, act, world):
    # It keeps ORACLE for the other domain, but no longer speaks for this one.
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with boa.env.prank(world.deployer):
        pam.set_oracle(OTHER_DOMAIN, world.oracle, OTHER_ENC_KEY)
        pam.remove_oracle(DOMAIN, world.oracle)
    assert pam.has_role(world.oracle, ORACLE_ROLE)
    with boa.reverts("oracles: not oracle"):
        act.receipt(request_id, A_UNLOCK)


@pytest.fixture
def second_oracle(pam, world):
    """A second oracle of DOMAIN (another domain controller site), sharing the domain's key."""
    second = boa.env.generate_address("second_oracle")
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, second, ENC_KEY)
    return second


def test_post_receipt__either_oracle_of_the_domain(pam, act, world, second_oracle):
    request_id = act.grant()
    act.receipt(request_id, A_ADD_MEMBER, sender=second_oracle)
    assert one_event(pam, "ReceiptPosted").oracle == second_oracle
    with act.as_("alice"):
        pam.revoke(request_id)
    act.receipt(request_id, A_REMOVE_MEMBER)
    assert one_event(pam, "ReceiptPosted").oracle == world.oracle
    assert pam.receipt(request_id, A_ADD_MEMBER).oracle == second_oracle
    assert pam.receipt(request_id, A_REMOVE_MEMBER).oracle == world.oracle


@pytest.mark.parametrize("first", ["oracle", "second"])
def test_post_receipt__second_oracle_same_action__duplicate(pam, act, world, second_oracle, first):
    # Both oracles of a domain watch the same request; the first receipt wins, the other is refused.
    request_id = act.unlock()
    act.approve(request_id, "bob")
    winner, loser = (world.oracle, second_oracle) if first == "oracle" else (second_oracle, world.oracle)
    act.receipt(request_id, A_UNLOCK, sender=winner)
    with boa.reverts("receipts: duplicate"):
        act.receipt(request_id, A_UNLOCK, OUTCOME_FAILED, sender=loser)
    assert pam.receipt(request_id, A_UNLOCK).oracle == winner
    assert pam.status_of(request_id) == FULFILLED


def test_post_receipt__second_oracle_same_membership_action__duplicate(pam, act, second_oracle):
    request_id = act.grant()
    act.receipt(request_id, A_ADD_MEMBER)
    with boa.reverts("receipts: duplicate"):
        act.receipt(request_id, A_ADD_MEMBER, sender=second_oracle)


def test_report_drift__by_second_oracle(pam, second_oracle):
    with boa.env.prank(second_oracle):
        pam.report_drift(DOMAIN, GROUP, h("member:mallory"), h("dc2"), True)
    assert one_event(pam, "DriftReported").oracle == second_oracle


def test_post_receipt__duplicate__reverts(pam, act):
    request_id = act.grant()
    act.receipt(request_id, A_ADD_MEMBER)
    with boa.reverts("receipts: duplicate"):
        act.receipt(request_id, A_ADD_MEMBER, OUTCOME_FAILED)


def test_post_receipt__duplicate_unlock__reverts(pam, act):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    act.receipt(request_id, A_UNLOCK, OUTCOME_FAILED)
    with boa.reverts("receipts: duplicate"):
        act.receipt(request_id, A_UNLOCK)


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        ("unlock", A_RESET_PASSWORD),
        ("unlock", A_ADD_MEMBER),
        ("password", A_UNLOCK),
        ("password", A_REMOVE_MEMBER),
        ("elevate", A_UNLOCK),
        ("elevate", A_RESET_PASSWORD),
    ],
)
def test_post_receipt__wrong_action_for_kind__reverts(pam, act, kind, action):
    if kind == "elevate":
        request_id = act.grant()
    else:
        request_id = act.unlock() if kind == "unlock" else act.password_reset()
        act.approve(request_id, "bob")
    with boa.reverts("receipts: wrong action"):
        act.receipt(request_id, action)


@pytest.mark.parametrize("action", [0, 5, 255])
def test_post_receipt__bad_action__reverts(pam, act, action):
    request_id = act.grant()
    with boa.reverts("receipts: bad action"):
        act.receipt(request_id, action)


@pytest.mark.parametrize("outcome", [0, 3])
def test_post_receipt__bad_outcome__reverts(pam, act, outcome):
    request_id = act.grant()
    with boa.reverts("receipts: bad outcome"):
        act.receipt(request_id, A_ADD_MEMBER, outcome)


def test_post_receipt__unknown_request__reverts(pam, act):
    with boa.reverts("receipts: unknown request"):
        act.receipt(77, A_UNLOCK)


def test_post_receipt__unlock_not_approved__reverts(pam, act):
    request_id = act.unlock()
    with boa.reverts("receipts: not approved"):
        act.receipt(request_id, A_UNLOCK)


def test_post_receipt__elevation_never_activated__reverts(pam, act):
    request_id = act.elevate()
    with boa.reverts("receipts: not activated"):
        act.receipt(request_id, A_ADD_MEMBER)


def test_report_drift__alarm(pam, world):
    with boa.env.prank(world.oracle):
        pam.report_drift(DOMAIN, GROUP, h("member:mallory"), h("dc2"), True)
    drift = one_event(pam, "DriftReported")
    assert (drift.domain, drift.target, drift.member_hash, drift.dc_id, drift.removed, drift.oracle) == (
        DOMAIN,
        GROUP,
        h("member:mallory"),
        h("dc2"),
        True,
        world.oracle,
    )
    alarm = one_event(pam, "Alarm")
    assert (alarm.kind, alarm.domain, alarm.request_id, alarm.target, alarm.subject, alarm.detail) == (
        ALARM_DRIFT,
        DOMAIN,
        0,
        GROUP,
        h("member:mallory"),
        h("dc2"),
    )


@pytest.mark.parametrize("who", ["other_oracle", "stranger"])
def test_report_drift__not_domain_oracle__reverts(pam, world, who):
    with boa.env.prank(getattr(world, who)), boa.reverts("oracles: not oracle"):
        pam.report_drift(DOMAIN, GROUP, h("m"), h("dc"), False)


def test_report_drift__unregistered_domain__reverts(pam, world):
    with boa.env.prank(ZERO_ADDRESS), boa.reverts("oracles: not oracle"):
        pam.report_drift(h("domain:none"), GROUP, ZERO32, ZERO32, False)


def test_receipt__none__zero(pam):
    assert pam.receipt(1, A_UNLOCK).outcome == 0


# --- late removals (the oracle keeps retrying; security staff are paged) ---------------------------------------


def test_report_late_removal__expired_grant__alarm_with_subject_and_target(pam, act, world):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR + 60)
    with boa.env.prank(world.oracle):
        pam.report_late_removal(request_id, h("dc1"))
    alarm = one_event(pam, "Alarm")
    request = pam.request(request_id)
    assert (alarm.kind, alarm.domain, alarm.request_id, alarm.target, alarm.subject, alarm.detail) == (
        ALARM_REMOVAL_LATE,
        DOMAIN,
        request_id,
        GROUP,
        request.subject,
        h("dc1"),
    )


def test_report_late_removal__already_removed__reverts(pam, act, world):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR)
    act.receipt(request_id, A_REMOVE_MEMBER)
    with boa.env.prank(world.oracle), boa.reverts("receipts: already removed"):
        pam.report_late_removal(request_id, h("dc1"))


@pytest.mark.parametrize("who", ["other_oracle", "stranger"])
def test_report_late_removal__not_domain_oracle__reverts(pam, act, world, who):
    request_id = act.grant()
    with boa.env.prank(getattr(world, who)), boa.reverts("oracles: not oracle"):
        pam.report_late_removal(request_id, h("dc1"))


def test_report_late_removal__not_an_elevation__reverts(pam, act, world):
    request_id = act.unlock()
    with boa.env.prank(world.oracle), boa.reverts("receipts: wrong action"):
        pam.report_late_removal(request_id, h("dc1"))


def test_report_late_removal__unknown_request__reverts(pam, world):
    with boa.env.prank(world.oracle), boa.reverts("receipts: unknown request"):
        pam.report_late_removal(999, h("dc1"))


def test_report_late_removal__never_activated__reverts(pam, act, world):
    request_id = act.elevate()
    with boa.env.prank(world.oracle), boa.reverts("receipts: not activated"):
        pam.report_late_removal(request_id, h("dc1"))


# -- issue 12: every receipt is one the request's state explains ----------------------------------------

LIVE, EXPIRED_UNRECORDED, EXPIRED_RECORDED, REVOKED, SUSPENDED = (
    "live",
    "expired-unrecorded",
    "expired-recorded",
    "revoked",
    "suspended",
)
NOT_ACTIVATED = ("pending", "denied", "cancelled", "request-expired")


def _elevation_in(pam, act, world, state):
    """An elevation of alice's brought into `state`."""
    if state in NOT_ACTIVATED:
        request_id = act.elevate()
        if state == "denied":
            with act.as_("bob"):
                pam.deny(request_id, h("no"))
        elif state == "cancelled":
            with act.as_("alice"):
                pam.cancel(request_id)
        elif state == "request-expired":
            boa.env.time_travel(seconds=HOUR)
        return request_id
    request_id = act.grant(duration=HOUR)
    if state in (EXPIRED_UNRECORDED, EXPIRED_RECORDED):
        boa.env.time_travel(seconds=HOUR)
        if state == EXPIRED_RECORDED:
            pam.end_expired(request_id)
    elif state == REVOKED:
        with act.as_("bob"):
            pam.revoke(request_id)
    elif state == SUSPENDED:
        with boa.env.prank(world.council[0]):
            pam.suspend(World.id("alice"))
    return request_id


def _expected(state, action, outcome):
    """None if the receipt is consistent with the grant's state, else the revert reason."""
    if state in NOT_ACTIVATED:
        return "receipts: not activated"
    if action == A_REMOVE_MEMBER:
        return "receipts: grant live" if state == LIVE else None
    # ADD_MEMBER after activation, live or not: FAILED is true in every state, and an add done while live may
    # be reported late by an oracle that crashed in between (refusing it would lose the evidence).
    return None


CELLS = [
    (state, action, outcome)
    for state in (LIVE, EXPIRED_UNRECORDED, EXPIRED_RECORDED, REVOKED, SUSPENDED, *NOT_ACTIVATED)
    for action in (A_ADD_MEMBER, A_REMOVE_MEMBER)
    for outcome in (APPLIED, OUTCOME_FAILED)
]


@pytest.mark.parametrize(("state", "action", "outcome"), CELLS)
def test_post_receipt__elevation_cell(pam, act, world, state, action, outcome):
    request_id = _elevation_in(pam, act, world, state)
    reason = _expected(state, action, outcome)
    if reason is not None:
        with boa.reverts(reason):
            act.receipt(request_id, action, outcome)
        assert pam.receipt(request_id, action).outcome == 0
        return
    act.receipt(request_id, action, outcome)
    posted = one_event(pam, "ReceiptPosted")
    assert (posted.request_id, posted.action, posted.outcome) == (request_id, action, outcome)
    assert pam.receipt(request_id, action).outcome == outcome


def test_post_receipt__remove_while_live_refused__honest_one_accepted_later(pam, act):
    # The finding: a premature REMOVE_MEMBER APPLIED used to be accepted and then block the honest receipt.
    request_id = act.grant(duration=HOUR)
    act.receipt(request_id, A_ADD_MEMBER)
    with boa.reverts("receipts: grant live"):
        act.receipt(request_id, A_REMOVE_MEMBER)
    boa.env.time_travel(seconds=HOUR)
    act.receipt(request_id, A_REMOVE_MEMBER)
    assert one_event(pam, "ReceiptPosted").action == A_REMOVE_MEMBER


def test_post_receipt__remove_one_second_before_expiry__reverts(pam, act):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR - 1)
    with boa.reverts("receipts: grant live"):
        act.receipt(request_id, A_REMOVE_MEMBER)


SIMPLE_STATES = ("pending", "approved", "denied", "cancelled", "request-expired", "fulfilled", "failed")


@pytest.mark.parametrize("kind", ["unlock", "password"])
@pytest.mark.parametrize("state", SIMPLE_STATES)
@pytest.mark.parametrize("outcome", [APPLIED, OUTCOME_FAILED])
def test_post_receipt__unlock_and_password_cell(pam, act, kind, state, outcome):
    action = A_UNLOCK if kind == "unlock" else A_RESET_PASSWORD
    request_id = act.unlock() if kind == "unlock" else act.password_reset()
    if state in ("approved", "fulfilled", "failed"):
        act.approve(request_id, "bob")
    if state in ("fulfilled", "failed"):
        act.receipt(request_id, action, APPLIED if state == "fulfilled" else OUTCOME_FAILED)
    elif state == "denied":
        with act.as_("bob"):
            pam.deny(request_id, h("no"))
    elif state == "cancelled":
        with act.as_("alice"):
            pam.cancel(request_id)
    elif state == "request-expired":
        boa.env.time_travel(seconds=HOUR)
    if state == "approved":
        act.receipt(request_id, action, outcome)
        assert one_event(pam, "ReceiptPosted").outcome == outcome
        assert pam.status_of(request_id) == (FULFILLED if outcome == APPLIED else FAILED)
        return
    reason = "receipts: duplicate" if state in ("fulfilled", "failed") else "receipts: not approved"
    with boa.reverts(reason):
        act.receipt(request_id, action, outcome)
