# Over 500 lines on purpose: the access-review contract's rules and refusals, one test each, in the order of a campaign.
"""Access reviews (PamReviews): campaigns opened by the council, items confirmed by their reviewers, lapses that
suspend or flag, and PamChain's SUSPENDER role that lets the campaign contract suspend and do nothing else."""

import boa
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from pamkit import (
    ALARM_REVIEW_LAPSED,
    APPROVERS,
    DAY,
    DISABLED_GROUP,
    DOMAIN,
    END_SUSPENDED,
    ENDED,
    GROUP,
    HOUR,
    ITEM_CONFIRMED,
    ITEM_LAPSED,
    ITEM_PENDING,
    LAPSE_FLAG,
    LAPSE_SUSPEND,
    OPERATOR_ROLE,
    ORACLE_ROLE,
    P_ACTIVE,
    P_SUSPENDED,
    REQUESTERS,
    REVIEWER_APPROVERS,
    REVIEWER_SELF,
    SCOPE_APPROVERS,
    SCOPE_PRINCIPALS,
    SCOPE_REQUESTERS,
    SELF_GROUP,
    SUSPENDER_ROLE,
    UNLOCK_TARGET,
    ZERO32,
    World,
    events,
    h,
)

ALICE, BOB, CAROL = World.id("alice"), World.id("bob"), World.id("carol")
LABEL = b"2027-Q1 admins".ljust(32, b"\x00")
# The corp principals (gina and hank are named as requesters but never enrolled).
ENROLLED = ("alice", "bob", "carol", "erin")


def deadline(after: int = DAY) -> int:
    return boa.env.timestamp + after


def open_campaign(
    reviews, world, scope, subjects, reviewer=REVIEWER_SELF, on_lapse=LAPSE_SUSPEND, after=HOUR
):
    """A campaign opened by the council's bootstrapper (governance during the bootstrap window)."""
    with boa.env.prank(world.deployer):
        return reviews.open_campaign(scope, list(subjects), reviewer, on_lapse, deadline(after), LABEL)


def item_ids(reviews, campaign_id):
    return {
        (bytes(reviews.item(campaign_id, i).principal), bytes(reviews.item(campaign_id, i).target)): i
        for i in range(reviews.campaign(campaign_id).item_count)
    }


def confirm(reviews, world, name, campaign_id, item_id):
    with boa.env.prank(world.devices[name]):
        reviews.confirm(campaign_id, item_id)


def past_deadline():
    """To the default campaign's deadline (an hour: grants of two hours are still live, bootstrap still open)."""
    boa.env.time_travel(seconds=HOUR)


# -- deployment ---------------------------------------------------------------------------------------------


def test_deploy__binds_council_and_pam(reviews, council, pam):
    assert reviews.council() == council.address
    assert reviews.pam() == pam.address
    assert reviews.campaign_count() == 0
    assert pam.has_role(reviews.address, SUSPENDER_ROLE)
    assert pam.ALARM_REVIEW_LAPSED() == ALARM_REVIEW_LAPSED


def test_deploy__pam_not_a_contract__reverts(reviews_deployer, council, world):
    with boa.reverts("reviews: pam not a contract"):
        reviews_deployer.deploy(council.address, world.stranger)


def test_deploy__council_not_a_contract__reverts(reviews_deployer, pam, world):
    with boa.reverts("governance: council not a contract"):
        reviews_deployer.deploy(world.stranger, pam.address)


# -- opening ------------------------------------------------------------------------------------------------


def test_open__principals__one_self_item_each(reviews, world):
    people = [ALICE, BOB, World.id("dave")]
    due = deadline()
    with boa.env.prank(world.deployer):
        campaign_id = reviews.open_campaign(SCOPE_PRINCIPALS, people, REVIEWER_SELF, LAPSE_FLAG, due, LABEL)
    (opened,) = events(reviews, "CampaignOpened")
    items = events(reviews, "ReviewItemOpened")
    assert campaign_id == 1 and reviews.campaign_count() == 1
    assert (opened.campaign_id, opened.scope, opened.reviewer, opened.on_lapse) == (1, 1, 1, 2)
    assert (opened.label, opened.deadline, opened.item_count, list(opened.subjects)) == (
        LABEL,
        due,
        3,
        people,
    )
    assert [(e.principal, e.target, e.item_id, e.reviewer, e.deadline) for e in items] == [
        (p, ZERO32, i, REVIEWER_SELF, due) for i, p in enumerate(people)
    ]
    campaign = reviews.campaign(1)
    assert (campaign.scope, campaign.reviewer, campaign.on_lapse, campaign.deadline, campaign.item_count) == (
        SCOPE_PRINCIPALS,
        REVIEWER_SELF,
        LAPSE_FLAG,
        due,
        3,
    )
    assert (campaign.confirmed, campaign.lapsed, campaign.closed) == (0, 0, False)
    assert campaign.opened == boa.env.timestamp
    item = reviews.item(1, 1)
    assert (item.principal, item.target, item.status, item.by, item.at) == (
        BOB,
        ZERO32,
        ITEM_PENDING,
        ZERO32,
        0,
    )
    assert reviews.item_of(1, BOB, ZERO32) == 2
    assert reviews.item_of(1, CAROL, ZERO32) == 0


def test_open__requesters__one_item_per_requester_and_policy(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP, SELF_GROUP], REVIEWER_APPROVERS)
    expected = [(World.id(n), GROUP) for n in REQUESTERS] + [(World.id(n), SELF_GROUP) for n in REQUESTERS]
    got = [(e.principal, e.target) for e in events(reviews, "ReviewItemOpened")]
    assert got == expected
    assert reviews.campaign(campaign_id).item_count == len(expected)


def test_open__approvers__one_item_per_approver(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_APPROVERS, [GROUP], REVIEWER_APPROVERS)
    assert [(e.principal, e.target) for e in events(reviews, "ReviewItemOpened")] == [
        (World.id(n), GROUP) for n in APPROVERS
    ]
    assert reviews.campaign(campaign_id).reviewer == REVIEWER_APPROVERS


def test_open__by_council_proposal(council, reviews, governed, act, world):
    due = deadline()
    act.govern(
        act.proposal(
            reviews, "open_campaign", SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, due, LABEL
        )
    )
    (opened,) = events(council, "CampaignOpened", by=reviews)
    assert (opened.campaign_id, opened.item_count) == (1, 1)
    assert reviews.campaign(1).deadline == due


def test_open__ids_are_sequential(reviews, world):
    assert open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE]) == 1
    # The same principal, another campaign.
    assert open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE]) == 2


def test_open__not_governance__reverts(reviews, world):
    for sender in (world.stranger, world.council[0], world.devices["bob"], world.oracle, world.operator):
        with boa.env.prank(sender), boa.reverts("council: not governance"):
            reviews.open_campaign(SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, deadline(), LABEL)


def test_open__bootstrapper_after_bootstrap__reverts(reviews, governed, world):
    with boa.env.prank(world.deployer), boa.reverts("council: not governance"):
        reviews.open_campaign(SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, deadline(), LABEL)


@pytest.mark.parametrize(
    ("scope", "subjects", "reviewer", "on_lapse", "after", "reason"),
    [
        (0, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: bad scope"),
        (4, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: bad scope"),
        (SCOPE_PRINCIPALS, [ALICE], 0, LAPSE_SUSPEND, DAY, "reviews: bad reviewer"),
        (SCOPE_REQUESTERS, [GROUP], 3, LAPSE_SUSPEND, DAY, "reviews: bad reviewer"),
        (SCOPE_PRINCIPALS, [ALICE], REVIEWER_APPROVERS, LAPSE_SUSPEND, DAY, "reviews: bad reviewer"),
        (SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, 0, DAY, "reviews: bad lapse action"),
        (SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, 3, DAY, "reviews: bad lapse action"),
        (SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, 0, "reviews: bad deadline"),
        (SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, 367 * DAY, "reviews: bad deadline"),
        (
            SCOPE_PRINCIPALS,
            [h("principal:nobody")],
            REVIEWER_SELF,
            LAPSE_SUSPEND,
            DAY,
            "reviews: unknown principal",
        ),
        (SCOPE_PRINCIPALS, [ALICE, BOB, ALICE], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: duplicate"),
        (SCOPE_REQUESTERS, [GROUP, GROUP], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: duplicate"),
        (SCOPE_REQUESTERS, [h("group:none")], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: unknown policy"),
        (
            SCOPE_APPROVERS,
            [h(f"g{i}") for i in range(9)],
            REVIEWER_SELF,
            LAPSE_SUSPEND,
            DAY,
            "reviews: too many targets",
        ),
        (SCOPE_REQUESTERS, [UNLOCK_TARGET], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: empty campaign"),
        (SCOPE_PRINCIPALS, [], REVIEWER_SELF, LAPSE_SUSPEND, DAY, "reviews: empty campaign"),
    ],
)
def test_open__bad_arguments__revert(reviews, world, scope, subjects, reviewer, on_lapse, after, reason):
    with boa.env.prank(world.deployer), boa.reverts(reason):
        reviews.open_campaign(scope, subjects, reviewer, on_lapse, deadline(after), LABEL)
    assert reviews.campaign_count() == 0


def test_open__deadline_in_the_past__reverts(reviews, world):
    with boa.env.prank(world.deployer), boa.reverts("reviews: bad deadline"):
        reviews.open_campaign(SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, deadline(-1), LABEL)


def test_open__snapshot__later_policy_change_keeps_items(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [SELF_GROUP])
    with boa.env.prank(world.deployer):
        pam.set_policy(SELF_GROUP, DOMAIN, 0, HOUR, HOUR, True, True, 0, 0, [BOB], [ALICE], 0, 0, 0)
    assert reviews.campaign(campaign_id).item_count == len(REQUESTERS)
    assert reviews.item_of(campaign_id, CAROL, SELF_GROUP) != 0


# -- confirming ---------------------------------------------------------------------------------------------


def test_confirm__self(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE, BOB])
    confirm(reviews, world, "bob", campaign_id, 1)
    (confirmed,) = events(reviews, "ReviewItemConfirmed")
    assert (confirmed.campaign_id, confirmed.principal, confirmed.target) == (campaign_id, BOB, ZERO32)
    assert (confirmed.item_id, confirmed.reviewer) == (1, BOB)
    item = reviews.item(campaign_id, 1)
    assert (item.status, item.by, item.at) == (ITEM_CONFIRMED, BOB, boa.env.timestamp)
    assert reviews.campaign(campaign_id).confirmed == 1
    assert reviews.item(campaign_id, 0).status == ITEM_PENDING


def test_confirm__by_an_approver_of_the_policy(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP], REVIEWER_APPROVERS)
    alice = item_ids(reviews, campaign_id)[(ALICE, GROUP)]
    assert reviews.is_reviewer(campaign_id, alice, CAROL)
    assert not reviews.is_reviewer(campaign_id, alice, ALICE)
    confirm(reviews, world, "carol", campaign_id, alice)
    assert events(reviews, "ReviewItemConfirmed")[0].reviewer == CAROL
    assert reviews.item(campaign_id, alice).by == CAROL


def test_confirm__approvers_review_each_other(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_APPROVERS, [GROUP], REVIEWER_APPROVERS)
    bob = item_ids(reviews, campaign_id)[(BOB, GROUP)]
    with boa.env.prank(world.devices["bob"]), boa.reverts("reviews: self-review"):
        reviews.confirm(campaign_id, bob)
    confirm(reviews, world, "erin", campaign_id, bob)
    assert reviews.item(campaign_id, bob).status == ITEM_CONFIRMED


def test_confirm__wrong_reviewer__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    assert not reviews.is_reviewer(campaign_id, 0, BOB)
    for name in ("bob", "carol"):  # even an approver cannot attest for someone else in a self-review
        with boa.env.prank(world.devices[name]), boa.reverts("reviews: not reviewer"):
            reviews.confirm(campaign_id, 0)


def test_confirm__not_an_approver__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP], REVIEWER_APPROVERS)
    bob = item_ids(reviews, campaign_id)[(BOB, GROUP)]
    for name in ("alice", "dave"):  # a requester of the policy; an approver of another policy
        with boa.env.prank(world.devices[name]), boa.reverts("reviews: not reviewer"):
            reviews.confirm(campaign_id, bob)


def test_confirm__approver_dropped_from_the_set__reverts(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [SELF_GROUP], REVIEWER_APPROVERS)
    alice = item_ids(reviews, campaign_id)[(ALICE, SELF_GROUP)]
    requesters = [World.id(n) for n in REQUESTERS]
    with boa.env.prank(world.deployer):  # bob leaves SELF_GROUP's approver set: the current set decides
        pam.set_policy(SELF_GROUP, DOMAIN, 0, HOUR, HOUR, True, True, 0, 0, [CAROL], requesters, 0, 0, 0)
    with boa.env.prank(world.devices["bob"]), boa.reverts("reviews: not reviewer"):
        reviews.confirm(campaign_id, alice)
    confirm(reviews, world, "carol", campaign_id, alice)


def test_confirm__not_a_principal__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    for sender in (world.stranger, world.council[0], world.deployer, world.oracle):
        with boa.env.prank(sender), boa.reverts("reviews: not active principal"):
            reviews.confirm(campaign_id, 0)


def test_confirm__suspended_reviewer__reverts(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    assert not reviews.is_reviewer(campaign_id, 0, ALICE)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: not active principal"):
        reviews.confirm(campaign_id, 0)


def test_confirm__old_device_after_rotation__reverts(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    new_device = boa.env.generate_address("alice-new-phone")
    with boa.env.prank(world.deployer):
        pam.rotate_device(ALICE, new_device)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: not active principal"):
        reviews.confirm(campaign_id, 0)
    with boa.env.prank(new_device):
        reviews.confirm(campaign_id, 0)


def test_confirm__twice__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    confirm(reviews, world, "alice", campaign_id, 0)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: not pending"):
        reviews.confirm(campaign_id, 0)
    assert reviews.campaign(campaign_id).confirmed == 1


def test_confirm__at_the_deadline__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE], after=HOUR)
    boa.env.time_travel(seconds=HOUR - 1)
    confirm(reviews, world, "alice", campaign_id, 0)  # the last second still counts
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE], after=HOUR)
    boa.env.time_travel(seconds=HOUR)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: deadline passed"):
        reviews.confirm(campaign_id, 0)


def test_confirm__lapsed_item__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE], on_lapse=LAPSE_FLAG)
    past_deadline()
    reviews.lapse(campaign_id, 0)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: not pending"):
        reviews.confirm(campaign_id, 0)


def test_confirm__unknown_campaign_or_item__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    with boa.env.prank(world.devices["alice"]):
        with boa.reverts("reviews: unknown campaign"):
            reviews.confirm(campaign_id + 1, 0)
        with boa.reverts("reviews: unknown item"):
            reviews.confirm(campaign_id, 1)


# -- lapsing ------------------------------------------------------------------------------------------------


def test_lapse__suspend__suspends_and_ends_every_grant(reviews, pam, act, world):
    grants = [act.grant("alice", duration=2 * HOUR) for _ in range(2)]
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP])
    alice = item_ids(reviews, campaign_id)[(ALICE, GROUP)]
    past_deadline()
    assert all(pam.is_active(g) for g in grants)  # still inside their window
    with boa.env.prank(world.stranger):  # anyone may lapse once due
        reviews.lapse(campaign_id, alice)
    (lapsed,) = events(reviews, "ReviewItemLapsed")
    assert (lapsed.campaign_id, lapsed.principal, lapsed.target, lapsed.item_id) == (
        campaign_id,
        ALICE,
        GROUP,
        alice,
    )
    assert (lapsed.on_lapse, lapsed.suspended) == (LAPSE_SUSPEND, True)
    (suspended,) = events(reviews, "PrincipalSuspended", by=pam)
    assert (suspended.directory_id, suspended.by) == (ALICE, reviews.address)
    ended = events(reviews, "GrantEnded", by=pam)
    assert {(e.request_id, e.reason, e.by) for e in ended} == {
        (g, END_SUSPENDED, reviews.address) for g in grants
    }
    assert pam.principal(ALICE).status == P_SUSPENDED
    assert pam.active_grants(ALICE) == []
    assert not any(pam.is_active(g) for g in grants)
    assert all(pam.status_of(g) == ENDED for g in grants)
    assert not pam.is_account_allowed(world.devices["alice"])
    assert events(reviews, "Alarm") == []
    item = reviews.item(campaign_id, alice)
    assert (item.status, item.at) == (ITEM_LAPSED, boa.env.timestamp)
    assert reviews.campaign(campaign_id).lapsed == 1


def test_lapse__confirmed_principal_keeps_its_grant(reviews, pam, act, world):
    grant = act.grant("alice", duration=2 * HOUR)
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP])
    confirm(reviews, world, "alice", campaign_id, item_ids(reviews, campaign_id)[(ALICE, GROUP)])
    past_deadline()
    assert reviews.close(campaign_id)
    assert pam.is_active(grant)
    assert pam.principal(ALICE).status == P_ACTIVE
    assert ALICE not in {e.directory_id for e in events(reviews, "PrincipalSuspended", by=pam)}


def test_lapse__flag__raises_an_alarm_and_suspends_nobody(reviews, pam, act, world):
    grant = act.grant("alice", duration=2 * HOUR)
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP], on_lapse=LAPSE_FLAG)
    alice = item_ids(reviews, campaign_id)[(ALICE, GROUP)]
    past_deadline()
    reviews.lapse(campaign_id, alice)
    (alarm,) = events(reviews, "Alarm", by=reviews)
    assert (alarm.kind, alarm.domain, alarm.request_id) == (ALARM_REVIEW_LAPSED, DOMAIN, campaign_id)
    assert (alarm.target, alarm.subject, alarm.detail) == (GROUP, ALICE, alice.to_bytes(32, "big"))
    (lapsed,) = events(reviews, "ReviewItemLapsed")
    assert (lapsed.on_lapse, lapsed.suspended) == (LAPSE_FLAG, False)
    assert events(reviews, "PrincipalSuspended", by=pam) == []
    assert pam.principal(ALICE).status == P_ACTIVE and pam.is_active(grant)


def test_lapse__already_suspended_principal(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    past_deadline()
    reviews.lapse(campaign_id, 0)
    assert events(reviews, "ReviewItemLapsed")[0].suspended is False
    assert events(reviews, "PrincipalSuspended", by=pam) == []


def test_lapse__never_enrolled_requester_is_only_recorded(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP])
    gina = item_ids(reviews, campaign_id)[(World.id("gina"), GROUP)]
    past_deadline()
    reviews.lapse(campaign_id, gina)
    assert reviews.item(campaign_id, gina).status == ITEM_LAPSED
    assert events(reviews, "PrincipalSuspended", by=pam) == []


def test_lapse__before_the_deadline__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    boa.env.time_travel(seconds=HOUR - 1)
    with boa.reverts("reviews: not due"):
        reviews.lapse(campaign_id, 0)
    with boa.reverts("reviews: not due"):
        reviews.close(campaign_id)


def test_lapse__confirmed_or_twice__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE, BOB], on_lapse=LAPSE_FLAG)
    confirm(reviews, world, "alice", campaign_id, 0)
    past_deadline()
    with boa.reverts("reviews: not pending"):
        reviews.lapse(campaign_id, 0)
    reviews.lapse(campaign_id, 1)
    with boa.reverts("reviews: not pending"):
        reviews.lapse(campaign_id, 1)


def test_lapse__unknown_campaign_or_item__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    past_deadline()
    with boa.reverts("reviews: unknown campaign"):
        reviews.lapse(campaign_id + 1, 0)
    with boa.reverts("reviews: unknown item"):
        reviews.lapse(campaign_id, 1)
    with boa.reverts("reviews: unknown campaign"):
        reviews.close(campaign_id + 1)


def test_lapse__suspender_role_withdrawn__reverts(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    with boa.env.prank(world.deployer):
        pam.set_roles(reviews.address, 0)  # the council's kill switch: the campaign may no longer suspend
    past_deadline()
    with boa.reverts("suspension: not council"):
        reviews.lapse(campaign_id, 0)
    assert reviews.item(campaign_id, 0).status == ITEM_PENDING


# -- closing ------------------------------------------------------------------------------------------------


def test_close__lapses_what_is_pending_and_closes(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE, BOB, CAROL])
    confirm(reviews, world, "bob", campaign_id, 1)
    past_deadline()
    assert reviews.close(campaign_id) is True
    assert [(e.principal, e.suspended) for e in events(reviews, "ReviewItemLapsed")] == [
        (ALICE, True),
        (CAROL, True),
    ]
    (closed,) = events(reviews, "CampaignClosed")
    assert (closed.campaign_id, closed.confirmed, closed.lapsed, closed.cancelled) == (
        campaign_id,
        1,
        2,
        False,
    )
    assert [pam.principal(p).status for p in (ALICE, BOB, CAROL)] == [P_SUSPENDED, P_ACTIVE, P_SUSPENDED]
    campaign = reviews.campaign(campaign_id)
    assert (campaign.closed, campaign.cursor, campaign.confirmed, campaign.lapsed) == (True, 3, 1, 2)
    with boa.reverts("reviews: closed"):
        reviews.close(campaign_id)


def test_close__in_bounded_batches(reviews, world):
    targets = [GROUP, SELF_GROUP, DISABLED_GROUP]  # 6 requesters each: 18 items
    campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, targets, on_lapse=LAPSE_FLAG)
    past_deadline()
    reviews.lapse(campaign_id, 17)  # a per-item lapse before close is simply skipped by it
    assert reviews.close(campaign_id) is False
    assert len(events(reviews, "ReviewItemLapsed")) == 16
    assert events(reviews, "CampaignClosed") == []
    assert reviews.campaign(campaign_id).cursor == 16
    assert reviews.close(campaign_id) is True
    assert len(events(reviews, "ReviewItemLapsed")) == 1
    assert events(reviews, "CampaignClosed")[0].lapsed == 18
    assert all(reviews.item(campaign_id, i).status == ITEM_LAPSED for i in range(18))


def test_close__then_nothing_more__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE], on_lapse=LAPSE_FLAG)
    past_deadline()
    reviews.close(campaign_id)
    with boa.reverts("reviews: closed"):
        reviews.lapse(campaign_id, 0)
    with boa.env.prank(world.devices["alice"]), boa.reverts("reviews: closed"):
        reviews.confirm(campaign_id, 0)


# -- cancelling ---------------------------------------------------------------------------------------------


def test_cancel__nothing_is_applied(reviews, pam, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE, BOB])
    confirm(reviews, world, "bob", campaign_id, 1)
    with boa.env.prank(world.deployer):
        reviews.cancel_campaign(campaign_id)
    (closed,) = events(reviews, "CampaignClosed")
    assert (closed.confirmed, closed.lapsed, closed.cancelled) == (1, 0, True)
    with boa.env.prank(world.deployer), boa.reverts("reviews: closed"):
        reviews.cancel_campaign(campaign_id)
    past_deadline()
    for call in (lambda: reviews.lapse(campaign_id, 0), lambda: reviews.close(campaign_id)):
        with boa.reverts("reviews: closed"):
            call()
    assert pam.principal(ALICE).status == P_ACTIVE


def test_cancel__by_council_proposal(council, reviews, governed, act, world):
    due = deadline()
    act.govern(
        act.proposal(
            reviews, "open_campaign", SCOPE_PRINCIPALS, [ALICE], REVIEWER_SELF, LAPSE_SUSPEND, due, LABEL
        )
    )
    act.govern(act.proposal(reviews, "cancel_campaign", 1))
    assert events(council, "CampaignClosed", by=reviews)[0].cancelled is True


def test_cancel__not_governance_or_unknown__reverts(reviews, world):
    campaign_id = open_campaign(reviews, world, SCOPE_PRINCIPALS, [ALICE])
    for sender in (world.stranger, world.council[1], world.devices["alice"]):
        with boa.env.prank(sender), boa.reverts("council: not governance"):
            reviews.cancel_campaign(campaign_id)
    with boa.env.prank(world.deployer), boa.reverts("reviews: unknown campaign"):
        reviews.cancel_campaign(campaign_id + 1)


# -- PamChain's SUSPENDER role ------------------------------------------------------------------------------


def test_suspender_role__may_suspend_and_nothing_else(pam, world):
    holder = world.stranger
    with boa.env.prank(world.deployer):
        pam.set_roles(holder, SUSPENDER_ROLE)
    with boa.env.prank(holder):
        pam.suspend(ALICE)
        assert events(pam, "PrincipalSuspended")[0].by == holder
        for call in (
            lambda: pam.reinstate(ALICE),
            lambda: pam.set_roles(holder, SUSPENDER_ROLE | ORACLE_ROLE),
            lambda: pam.enrol(world.operator, h("principal:new"), DOMAIN),
        ):
            with boa.reverts("council: not governance"):
                call()
        with boa.reverts("grants: not authorized"):
            pam.revoke(1)


def test_suspender_role__other_roles_may_not_suspend(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_roles(world.stranger, ORACLE_ROLE | OPERATOR_ROLE)
    with boa.env.prank(world.stranger), boa.reverts("suspension: not council"):
        pam.suspend(ALICE)


# -- the property -------------------------------------------------------------------------------------------

# Items of a requester campaign over GROUP and SELF_GROUP: (principal name, target).
ITEMS = [(n, t) for t in (GROUP, SELF_GROUP) for n in REQUESTERS]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    on_lapse=st.sampled_from([LAPSE_SUSPEND, LAPSE_FLAG]),
    confirmed=st.sets(st.sampled_from([i for i, (n, _) in enumerate(ITEMS) if n in ENROLLED])),
    suspended_before=st.sets(st.sampled_from(ENROLLED), max_size=2),
    lapsed_one_by_one=st.sets(st.integers(0, len(ITEMS) - 1), max_size=4),
    with_grants=st.sets(st.sampled_from(["alice", "carol"])),
)
def test_property__after_close_every_item_is_confirmed_or_its_lapse_applied(
    reviews, pam, act, world, on_lapse, confirmed, suspended_before, lapsed_one_by_one, with_grants
):
    """After close: every item is CONFIRMED (exactly those confirmed in time) or LAPSED; under SUSPEND a
    principal is suspended by the campaign iff one of its items lapsed while it was active, so a principal whose
    every item was confirmed is never suspended by it, and no suspended principal keeps a live grant; under FLAG
    each lapsed item raises one alarm and nobody's status changes."""
    with boa.env.anchor():
        grants = {n: act.grant(n, duration=2 * HOUR) for n in sorted(with_grants)}
        with boa.env.prank(world.council[0]):
            for name in sorted(suspended_before):
                pam.suspend(World.id(name))
        campaign_id = open_campaign(reviews, world, SCOPE_REQUESTERS, [GROUP, SELF_GROUP], on_lapse=on_lapse)
        ids = item_ids(reviews, campaign_id)
        done = set()
        for index in sorted(confirmed):
            name, target = ITEMS[index]
            if name in suspended_before:
                continue  # a suspended principal cannot attest
            confirm(reviews, world, name, campaign_id, ids[(World.id(name), target)])
            done.add(index)
        past_deadline()
        logs = []
        for index in sorted(lapsed_one_by_one - done):
            name, target = ITEMS[index]
            reviews.lapse(campaign_id, ids[(World.id(name), target)])
            logs += reviews.get_logs()
        while not reviews.close(campaign_id):
            logs += reviews.get_logs()
        logs += reviews.get_logs()

        for index, (name, target) in enumerate(ITEMS):
            status = reviews.item(campaign_id, ids[(World.id(name), target)]).status
            assert status == (ITEM_CONFIRMED if index in done else ITEM_LAPSED)
        campaign = reviews.campaign(campaign_id)
        assert (campaign.confirmed, campaign.lapsed, campaign.closed) == (
            len(done),
            len(ITEMS) - len(done),
            True,
        )

        by_campaign = {
            bytes(e.directory_id)
            for e in logs
            if type(e).__name__ == "PrincipalSuspended" and str(e.by) == str(reviews.address)
        }
        alarms = [e for e in logs if type(e).__name__ == "Alarm"]
        lapsed_names = {ITEMS[i][0] for i in range(len(ITEMS)) if i not in done}
        all_confirmed = {n for n in ENROLLED if all(i in done for i, (m, _) in enumerate(ITEMS) if m == n)}
        if on_lapse == LAPSE_SUSPEND:
            expected = {World.id(n) for n in lapsed_names if n in ENROLLED and n not in suspended_before}
            assert by_campaign == expected
            assert not by_campaign & {World.id(n) for n in all_confirmed}
            assert alarms == []
        else:
            assert by_campaign == set()
            assert len(alarms) == len(ITEMS) - len(done)
            assert {(bytes(a.subject), bytes(a.target)) for a in alarms} == {
                (World.id(ITEMS[i][0]), ITEMS[i][1]) for i in range(len(ITEMS)) if i not in done
            }
        for name in ENROLLED:
            should_be_suspended = name in suspended_before or World.id(name) in by_campaign
            assert pam.principal(World.id(name)).status == (P_SUSPENDED if should_be_suspended else P_ACTIVE)
            if should_be_suspended:
                assert pam.active_grants(World.id(name)) == []
        for name, grant in grants.items():
            assert pam.is_active(grant) == (
                name not in suspended_before and World.id(name) not in by_campaign
            )
