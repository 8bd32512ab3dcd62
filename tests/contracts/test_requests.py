# Over 500 lines on purpose: every permission check and refusal of the request lifecycle has its negative test here, next to the rule it checks.
"""Requests: creation under a policy, k-of-n approval, denial, cancellation and expiry."""

import boa
import pytest
from pamkit import (
    ACTIVE,
    ALARM_BREAK_GLASS,
    ALARM_UNLOCK_LIMIT,
    APPROVED,
    BREAK_GLASS_COOLDOWN,
    BREAK_GLASS_MAX,
    CANCELLED,
    DENIED,
    DISABLED_GROUP,
    DOMAIN,
    ELEVATE,
    EXPIRED,
    GROUP,
    GROUP_MAX,
    HOUR,
    MAX_PENDING,
    NONE,
    OTHER_GROUP,
    PASSWORD_RESET,
    PASSWORD_RESET_TARGET,
    PENDING,
    SELF_GROUP,
    UNLOCK,
    UNLOCK_LIMIT,
    UNLOCK_TARGET,
    UNLOCK_WINDOW,
    ZERO32,
    World,
    events,
    h,
    one_event,
)

ALICE = World.id("alice")


# -- creation ---------------------------------------------------------------------------------------


def test_request_unlock__pending(pam, act, world):
    request_id = act.unlock()
    assert request_id == 1
    created = one_event(pam, "RequestCreated")
    assert (created.request_id, created.kind, created.subject, created.target, created.domain) == (
        1,
        UNLOCK,
        ALICE,
        UNLOCK_TARGET,
        DOMAIN,
    )
    assert (created.requester, created.approvals_required, created.break_glass) == (
        world.devices["alice"],
        1,
        False,
    )
    assert created.deadline == boa.env.timestamp + MAX_PENDING
    request = pam.request(1)
    assert (request.kind, request.status, request.subject, request.deadline) == (
        UNLOCK,
        PENDING,
        ALICE,
        created.deadline,
    )
    assert pam.request_count() == 1
    assert pam.status_of(1) == PENDING


def test_request_password_reset__records_payload_hash(pam, act):
    act.password_reset(payload=h("ciphertext"))
    created = one_event(pam, "RequestCreated")
    assert (created.kind, created.target, created.payload_hash) == (
        PASSWORD_RESET,
        PASSWORD_RESET_TARGET,
        h("ciphertext"),
    )
    assert pam.request(1).payload_hash == h("ciphertext")


def test_request_password_reset__zero_payload__reverts(pam, act):
    with act.as_("alice"), boa.reverts("requests: zero payload hash"):
        pam.request_password_reset(ZERO32)


def test_request_elevation__pending(pam, act, world):
    with act.as_("alice"):
        request_id = pam.request_elevation(GROUP, HOUR, h("why"), h("CHG-1"), False)
    created = one_event(pam, "RequestCreated")
    assert (created.request_id, created.kind, created.target, created.duration) == (
        request_id,
        ELEVATE,
        GROUP,
        HOUR,
    )
    assert (created.justification_hash, created.ticket_ref, created.approvals_required) == (
        h("why"),
        h("CHG-1"),
        2,
    )
    assert events(pam, "Alarm") == []
    assert pam.request(request_id).duration == HOUR


def test_request_elevation__self_service__active_at_once(pam, act):
    request_id = act.elevate(target=SELF_GROUP, duration=HOUR)
    names = [type(e).__name__ for e in pam.get_logs()]
    assert names == ["RequestCreated", "RequestApproved", "GrantActivated"]
    activated = one_event(pam, "GrantActivated")
    assert (activated.request_id, activated.subject, activated.target, activated.domain) == (
        request_id,
        ALICE,
        SELF_GROUP,
        DOMAIN,
    )
    assert activated.expiry == activated.start + HOUR == boa.env.timestamp + HOUR
    assert one_event(pam, "RequestCreated").approvals_required == 0
    assert pam.is_active(request_id)


def test_request_elevation__break_glass__alarm_and_own_quorum(pam, act):
    request_id = act.elevate(duration=BREAK_GLASS_MAX, break_glass=True)
    created = one_event(pam, "RequestCreated")
    assert (created.break_glass, created.approvals_required) == (True, 1)
    alarm = one_event(pam, "Alarm")
    assert (alarm.kind, alarm.domain, alarm.request_id, alarm.target, alarm.subject, alarm.detail) == (
        ALARM_BREAK_GLASS,
        DOMAIN,
        request_id,
        GROUP,
        ALICE,
        h("why"),
    )
    act.approve(request_id, "bob")
    assert one_event(pam, "GrantActivated").expiry == boa.env.timestamp + BREAK_GLASS_MAX
    assert pam.is_active(request_id)


def test_set_policy__break_glass_zero_approvals__reverts(pam, act, world):
    # Issue 12: a zero break-glass quorum let one key make itself Domain Admin with nobody else involved.
    with boa.env.prank(world.deployer), boa.reverts("policies: zero break-glass quorum"):
        pam.set_policy(
            *(GROUP, DOMAIN, 1, GROUP_MAX, MAX_PENDING, False, True, 0, HOUR, [World.id("bob")]),
            *([World.id("alice")], 0, 0, 0),
        )


def test_request_elevation__break_glass_disabled__reverts(pam, act):
    with boa.reverts("requests: no break-glass"):
        act.elevate(target=SELF_GROUP, break_glass=True)


@pytest.mark.parametrize(
    ("duration", "break_glass"), [(0, False), (GROUP_MAX + 1, False), (0, True), (BREAK_GLASS_MAX + 1, True)]
)
def test_request_elevation__bad_duration__reverts(pam, act, duration, break_glass):
    with boa.reverts("requests: bad duration"):
        act.elevate(duration=duration, break_glass=break_glass)


def test_request_elevation__max_duration__ok(pam, act):
    request_id = act.elevate(duration=GROUP_MAX)
    assert one_event(pam, "RequestCreated").duration == GROUP_MAX
    assert pam.request(request_id).duration == GROUP_MAX


@pytest.mark.parametrize("target", [UNLOCK_TARGET, PASSWORD_RESET_TARGET])
def test_request_elevation__reserved_target__reverts(pam, act, target):
    with boa.reverts("requests: reserved target"):
        act.elevate(target=target)


def test_request_elevation__unknown_policy__reverts(pam, act):
    with boa.reverts("requests: unknown policy"):
        act.elevate(target=h("group:nobody-configured"))


def test_request_elevation__disabled_policy__reverts(pam, act):
    with boa.reverts("requests: policy disabled"):
        act.elevate(target=DISABLED_GROUP)


def test_request_elevation__wrong_domain__reverts(pam, act):
    with boa.reverts("requests: wrong domain"):
        act.elevate(target=OTHER_GROUP)


def test_request_unlock__wrong_domain__reverts(pam, act):
    with boa.reverts("requests: wrong domain"):
        act.unlock("dave")


def test_request_unlock__unknown_policy__reverts(council, deploy_pam, world):
    pam = deploy_pam(council.address)
    with boa.env.prank(world.deployer):
        pam.enrol(world.devices["alice"], ALICE, DOMAIN)
    with boa.env.prank(world.devices["alice"]), boa.reverts("requests: unknown policy"):
        pam.request_unlock()


@pytest.mark.parametrize("who", ["stranger", "council", "oracle"])
def test_request__not_principal__reverts(pam, world, who):
    sender = {"stranger": world.stranger, "council": world.council[0], "oracle": world.oracle}[who]
    with boa.env.prank(sender), boa.reverts("requests: not active principal"):
        pam.request_unlock()


def test_request__suspended_principal__reverts(pam, act, world):
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    with boa.reverts("requests: not active principal"):
        act.unlock()
    with boa.reverts("requests: not active principal"):
        act.elevate()
    with boa.reverts("requests: not active principal"):
        act.password_reset()


# -- approval ---------------------------------------------------------------------------------------


def test_approve__unlock_at_quorum__approved(pam, act):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    cast = one_event(pam, "ApprovalCast")
    assert (cast.request_id, cast.approver, cast.approvals, cast.approvals_required) == (
        request_id,
        World.id("bob"),
        1,
        1,
    )
    approved = one_event(pam, "RequestApproved")
    assert (approved.request_id, approved.kind, approved.subject, approved.target, approved.domain) == (
        request_id,
        UNLOCK,
        ALICE,
        UNLOCK_TARGET,
        DOMAIN,
    )
    assert pam.status_of(request_id) == APPROVED
    assert pam.has_approved(request_id, World.id("bob"))


def test_approve__password_reset__approved_with_payload_hash(pam, act):
    request_id = act.password_reset(payload=h("cipher"))
    act.approve(request_id, "carol")
    approved = one_event(pam, "RequestApproved")
    assert (approved.kind, approved.payload_hash) == (PASSWORD_RESET, h("cipher"))
    assert pam.status_of(request_id) == APPROVED


def test_approve__elevation_below_quorum__still_pending(pam, act):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    assert one_event(pam, "ApprovalCast").approvals == 1
    assert events(pam, "RequestApproved") == []
    assert pam.status_of(request_id) == PENDING
    assert pam.request(request_id).approvals == 1


def test_approve__elevation_at_quorum__grant_active(pam, act):
    request_id = act.elevate(duration=2 * HOUR)
    act.approve(request_id, "bob", "carol")
    names = [type(e).__name__ for e in pam.get_logs()]
    assert names == ["ApprovalCast", "RequestApproved", "GrantActivated"]
    activated = one_event(pam, "GrantActivated")
    assert (activated.start, activated.expiry) == (boa.env.timestamp, boa.env.timestamp + 2 * HOUR)
    request = pam.request(request_id)
    assert (request.status, request.start, request.expiry, request.approvals) == (
        ACTIVE,
        activated.start,
        activated.expiry,
        2,
    )
    assert pam.is_active(request_id)
    assert pam.active_grants(ALICE) == [request_id]


def test_approve__self_approval__reverts(pam, act):
    request_id = act.elevate("bob")
    with act.as_("bob"), boa.reverts("requests: self-approval"):
        pam.approve(request_id)


def test_approve__self_approval_after_rotation__reverts(pam, act, world):
    request_id = act.elevate("bob")
    new_device = boa.env.generate_address("bob-new-phone")
    with boa.env.prank(world.deployer):
        pam.rotate_device(World.id("bob"), new_device)
    with boa.env.prank(new_device), boa.reverts("requests: self-approval"):
        pam.approve(request_id)
    with act.as_("bob"), boa.reverts("requests: not approver"):
        pam.approve(request_id)  # the old key maps to nobody


def test_approve__twice__reverts(pam, act):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    with act.as_("bob"), boa.reverts("requests: already approved"):
        pam.approve(request_id)


def test_approve__after_rotation__old_approval_void_new_one_counts_once(pam, act, world):
    # A rotated device may have been stolen: what it approved no longer counts; the new device approves afresh.
    request_id = act.elevate()
    act.approve(request_id, "bob")
    new_device = boa.env.generate_address("bob-new-phone")
    with boa.env.prank(world.deployer):
        pam.rotate_device(World.id("bob"), new_device)
    assert not pam.has_approved(request_id, World.id("bob"))
    with boa.env.prank(new_device):
        pam.approve(request_id)
    assert one_event(pam, "ApprovalCast").approvals == 1
    with boa.env.prank(new_device), boa.reverts("requests: already approved"):
        pam.approve(request_id)


@pytest.mark.parametrize("who", ["dave", "stranger", "council"])
def test_approve__not_approver__reverts(pam, act, world, who):
    request_id = act.elevate()
    sender = {"dave": world.devices["dave"], "stranger": world.stranger, "council": world.council[0]}[who]
    with boa.env.prank(sender), boa.reverts("requests: not approver"):
        pam.approve(request_id)


def test_approve__removed_from_approver_set__reverts(pam, act, world):
    request_id = act.elevate()
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *(GROUP, DOMAIN, 1, GROUP_MAX, MAX_PENDING, False, True, 0, 0, [World.id("carol")]),
            *([World.id("alice")], 0, 0, 0),
        )
    with act.as_("bob"), boa.reverts("requests: not approver"):
        pam.approve(request_id)
    act.approve(request_id, "carol")
    assert one_event(pam, "ApprovalCast").approvals_required == 2  # snapshotted at request time


def test_approve__suspended_approver__reverts(pam, act, world):
    request_id = act.elevate()
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("bob"))
    with act.as_("bob"), boa.reverts("requests: approver not active"):
        pam.approve(request_id)


def test_approve__suspended_requester__reverts(pam, act, world):
    request_id = act.elevate()
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    with act.as_("bob"), boa.reverts("requests: requester not active"):
        pam.approve(request_id)


def test_approve__after_deadline__reverts(pam, act):
    request_id = act.elevate()
    boa.env.time_travel(seconds=MAX_PENDING)
    assert pam.status_of(request_id) == EXPIRED
    with act.as_("bob"), boa.reverts("requests: expired"):
        pam.approve(request_id)


def test_approve__just_before_deadline__ok(pam, act):
    request_id = act.unlock()
    boa.env.time_travel(seconds=MAX_PENDING - 1)
    act.approve(request_id, "bob")
    assert one_event(pam, "RequestApproved").request_id == request_id


@pytest.mark.parametrize("request_id", [0, 99])
def test_approve__unknown_request__reverts(pam, act, request_id):
    with act.as_("bob"), boa.reverts("requests: not pending"):
        pam.approve(request_id)


def test_approve__already_approved_request__reverts(pam, act):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with act.as_("carol"), boa.reverts("requests: not pending"):
        pam.approve(request_id)


# -- denial, cancellation, expiry --------------------------------------------------------------------


def test_deny__one_denial_ends_it(pam, act):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    with act.as_("carol"):
        pam.deny(request_id, h("no ticket"))
    denied = one_event(pam, "RequestDenied")
    assert (denied.request_id, denied.subject, denied.domain, denied.approver, denied.reason_hash) == (
        request_id,
        ALICE,
        DOMAIN,
        World.id("carol"),
        h("no ticket"),
    )
    assert pam.status_of(request_id) == DENIED
    with act.as_("erin"), boa.reverts("requests: not pending"):
        pam.approve(request_id)


def test_deny__not_approver__reverts(pam, act, world):
    request_id = act.unlock()
    with boa.env.prank(world.stranger), boa.reverts("requests: not approver"):
        pam.deny(request_id, ZERO32)


def test_deny__by_requester__reverts(pam, act):
    request_id = act.unlock("bob")
    with act.as_("bob"), boa.reverts("requests: self-approval"):
        pam.deny(request_id, ZERO32)


def test_deny__after_deadline__reverts(pam, act):
    request_id = act.unlock()
    boa.env.time_travel(seconds=MAX_PENDING)
    with act.as_("bob"), boa.reverts("requests: expired"):
        pam.deny(request_id, ZERO32)


def test_cancel__by_requester(pam, act):
    request_id = act.elevate()
    with act.as_("alice"):
        pam.cancel(request_id)
    cancelled = one_event(pam, "RequestCancelled")
    assert (cancelled.request_id, cancelled.subject, cancelled.domain) == (request_id, ALICE, DOMAIN)
    assert pam.status_of(request_id) == CANCELLED
    with act.as_("bob"), boa.reverts("requests: not pending"):
        pam.approve(request_id)


def test_cancel__by_another__reverts(pam, act, world):
    request_id = act.elevate()
    for sender in (world.devices["bob"], world.council[0], world.stranger):
        with boa.env.prank(sender), boa.reverts("requests: not requester"):
            pam.cancel(request_id)


def test_cancel__unknown__reverts(pam, act):
    with act.as_("alice"), boa.reverts("requests: not requester"):
        pam.cancel(5)


def test_cancel__not_pending__reverts(pam, act):
    request_id = act.unlock()
    act.approve(request_id, "bob")
    with act.as_("alice"), boa.reverts("requests: not pending"):
        pam.cancel(request_id)


def test_cancel__after_deadline__reverts(pam, act):
    request_id = act.unlock()
    boa.env.time_travel(seconds=MAX_PENDING)
    with act.as_("alice"), boa.reverts("requests: expired"):
        pam.cancel(request_id)


def test_expire_request__anyone_after_deadline(pam, act, world):
    request_id = act.elevate()
    boa.env.time_travel(seconds=MAX_PENDING)
    with boa.env.prank(world.stranger):
        pam.expire_request(request_id)
    expired = one_event(pam, "RequestExpired")
    assert (expired.request_id, expired.subject, expired.domain) == (request_id, ALICE, DOMAIN)
    assert pam.request(request_id).status == EXPIRED
    with boa.reverts("requests: not pending"):
        pam.expire_request(request_id)


def test_expire_request__before_deadline__reverts(pam, act):
    request_id = act.elevate()
    boa.env.time_travel(seconds=MAX_PENDING - 1)
    with boa.reverts("requests: not expired"):
        pam.expire_request(request_id)


def test_status_of__unknown__none(pam):
    assert pam.status_of(42) == NONE


def test_request_ids__increase_from_one(pam, act):
    assert [act.unlock(), act.elevate(), act.password_reset("bob")] == [1, 2, 3]
    assert pam.request_count() == 3


# -- issue 12: who may request, break-glass limits, stale approvals, unlock rate limit ------------------

TIER0 = h("group:tier0")


def _tier0(pam, world, requesters, approvers=("bob", "carol"), bg_approvals=1, cooldown=0):
    """A Domain-Admins-like policy: 2 approvals, break-glass with its own quorum, named requesters."""
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *(TIER0, DOMAIN, 2, GROUP_MAX, MAX_PENDING, False, True, bg_approvals, BREAK_GLASS_MAX),
            [World.id(n) for n in approvers],
            [World.id(n) for n in requesters],
            *(cooldown, 0, 0),
        )


def test_request_elevation__eligible_requester__pending(pam, act, world):
    _tier0(pam, world, ["alice"])
    request_id = act.elevate(target=TIER0)
    created = one_event(pam, "RequestCreated")
    assert (created.request_id, created.subject, created.target) == (request_id, ALICE, TIER0)


def test_request_elevation__not_in_requester_set__reverts(pam, act, world):
    _tier0(pam, world, ["alice"])
    with boa.reverts("requests: not eligible"):
        act.elevate("erin", target=TIER0)


@pytest.mark.parametrize("break_glass", [False, True])
def test_request_elevation__empty_requester_set__nobody__reverts(pam, act, world, break_glass):
    _tier0(pam, world, [])
    for name in ("alice", "bob", "carol", "erin"):
        with boa.reverts("requests: not eligible"):
            act.elevate(name, target=TIER0, duration=HOUR, break_glass=break_glass)


def test_approve__requester_dropped_from_set_while_pending__reverts(pam, act, world):
    _tier0(pam, world, ["alice"])
    request_id = act.elevate(target=TIER0)
    act.approve(request_id, "bob")
    _tier0(pam, world, ["erin"])
    with act.as_("carol"), boa.reverts("requests: not eligible"):
        pam.approve(request_id)
    assert pam.status_of(request_id) == PENDING


def test_break_glass__second_while_first_live__reverts(pam, act):
    first = act.elevate(duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    assert one_event(pam, "GrantActivated").request_id == first
    with boa.reverts("requests: break-glass cooldown"):
        act.elevate(duration=HOUR, break_glass=True)


def test_break_glass__within_cooldown_after_expiry__reverts(pam, act):
    first = act.elevate(duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    boa.env.time_travel(seconds=HOUR + BREAK_GLASS_COOLDOWN - 1)
    with boa.reverts("requests: break-glass cooldown"):
        act.elevate(duration=HOUR, break_glass=True)
    boa.env.time_travel(seconds=1)
    second = act.elevate(duration=HOUR, break_glass=True)
    assert one_event(pam, "Alarm").request_id == second


def test_break_glass__cooldown_spans_groups(pam, act, world):
    # The cooldown is per principal: another group's break-glass does not reset it.
    _tier0(pam, world, ["alice"], cooldown=0)
    first = act.elevate(target=TIER0, duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    with boa.reverts("requests: break-glass cooldown"):
        act.elevate(duration=HOUR, break_glass=True)  # GROUP, cooldown 4 h, alice's TIER0 grant live


def test_break_glass__two_pending__second_activation__reverts(pam, act):
    first = act.elevate(duration=HOUR, break_glass=True)
    second = act.elevate(duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    assert pam.is_active(first)
    with act.as_("carol"), boa.reverts("grants: break-glass cooldown"):
        pam.approve(second)


def test_break_glass__revoked_early__cooldown_from_scheduled_expiry(pam, act):
    first = act.elevate(duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    with act.as_("alice"):
        pam.revoke(first)
    assert one_event(pam, "GrantEnded").request_id == first
    with boa.reverts("requests: break-glass cooldown"):
        act.elevate(duration=HOUR, break_glass=True)


def test_break_glass__other_principal_unaffected(pam, act):
    first = act.elevate(duration=HOUR, break_glass=True)
    act.approve(first, "bob")
    other = act.elevate("erin", duration=HOUR, break_glass=True)
    act.approve(other, "bob")
    assert one_event(pam, "GrantActivated").request_id == other


def test_break_glass__requester_cannot_complete_own_quorum(pam, act):
    # Break-glass always involves another person: the requester's own approval never counts.
    request_id = act.elevate("bob", duration=HOUR, break_glass=True)
    with act.as_("bob"), boa.reverts("requests: self-approval"):
        pam.approve(request_id)
    assert pam.status_of(request_id) == PENDING


# Stale approvals: only approvals of currently eligible approvers count when the quorum is recounted.


def test_approve__approver_suspended_after_approving__approval_void(pam, act, world):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("bob"))
    act.approve(request_id, "carol")
    cast = one_event(pam, "ApprovalCast")
    assert (cast.approver, cast.approvals, cast.approvals_required) == (World.id("carol"), 1, 2)
    assert events(pam, "GrantActivated") == []
    assert pam.status_of(request_id) == PENDING
    assert pam.request(request_id).approvals == 1


def test_approve__approver_reinstated__old_approval_stays_void(pam, act, world):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("bob"))
    with boa.env.prank(world.deployer):
        pam.reinstate(World.id("bob"))
    assert not pam.has_approved(request_id, World.id("bob"))
    act.approve(request_id, "carol")
    assert one_event(pam, "ApprovalCast").approvals == 1
    act.approve(request_id, "bob")  # approves afresh
    assert one_event(pam, "ApprovalCast").approvals == 2
    assert one_event(pam, "GrantActivated").request_id == request_id


def _set_group_approvers(pam, world, names):
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *(GROUP, DOMAIN, 2, GROUP_MAX, MAX_PENDING, False, True, 1, BREAK_GLASS_MAX),
            [World.id(n) for n in names],
            [ALICE],
            *(0, 0, 0),
        )


def test_approve__approver_removed_from_set__approval_void(pam, act, world):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    _set_group_approvers(pam, world, ["carol", "erin"])
    act.approve(request_id, "carol")
    assert one_event(pam, "ApprovalCast").approvals == 1
    assert pam.status_of(request_id) == PENDING
    act.approve(request_id, "erin")
    assert one_event(pam, "ApprovalCast").approvals == 2
    assert one_event(pam, "GrantActivated").request_id == request_id


def test_approve__approver_removed_and_readded__approval_not_revived(pam, act, world):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    _set_group_approvers(pam, world, ["carol", "erin"])
    _set_group_approvers(pam, world, ["bob", "carol", "erin"])
    assert not pam.has_approved(request_id, World.id("bob"))
    act.approve(request_id, "carol")
    assert one_event(pam, "ApprovalCast").approvals == 1
    assert pam.status_of(request_id) == PENDING


def test_approve__approver_kept_across_policy_change__approval_counts(pam, act, world):
    request_id = act.elevate()
    act.approve(request_id, "bob")
    _set_group_approvers(pam, world, ["erin", "bob", "carol"])  # same set, new order
    assert pam.has_approved(request_id, World.id("bob"))
    act.approve(request_id, "carol")
    assert one_event(pam, "ApprovalCast").approvals == 2
    assert one_event(pam, "GrantActivated").request_id == request_id


# Unlock rate limit: UNLOCK_LIMIT per principal per UNLOCK_WINDOW, an alarm on the last one.


def test_request_unlock__up_to_limit__alarm_on_last(pam, act):
    start = boa.env.timestamp
    for _ in range(UNLOCK_LIMIT - 1):
        act.unlock()
        assert events(pam, "Alarm") == []
    request_id = act.unlock()
    alarm = one_event(pam, "Alarm")
    assert (alarm.kind, alarm.domain, alarm.request_id, alarm.target, alarm.subject) == (
        ALARM_UNLOCK_LIMIT,
        DOMAIN,
        request_id,
        UNLOCK_TARGET,
        ALICE,
    )
    assert int.from_bytes(alarm.detail, "big") == start + UNLOCK_WINDOW
    assert one_event(pam, "RequestCreated").request_id == request_id


def test_request_unlock__over_limit__reverts(pam, act):
    for _ in range(UNLOCK_LIMIT):
        act.unlock()
    with boa.reverts("requests: unlock limit"):
        act.unlock()
    boa.env.time_travel(seconds=UNLOCK_WINDOW - 2)
    with boa.reverts("requests: unlock limit"):
        act.unlock()


def test_request_unlock__new_window__allowed_again(pam, act):
    for _ in range(UNLOCK_LIMIT):
        act.unlock()
    boa.env.time_travel(seconds=UNLOCK_WINDOW)
    request_id = act.unlock()
    assert one_event(pam, "RequestCreated").request_id == request_id
    assert events(pam, "Alarm") == []


def test_request_unlock__limit_is_per_principal(pam, act):
    for _ in range(UNLOCK_LIMIT):
        act.unlock()
    request_id = act.unlock("erin")
    assert one_event(pam, "RequestCreated").subject == World.id("erin")
    assert pam.status_of(request_id) == PENDING


def test_request_unlock__self_service_counts_too(pam, act, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(UNLOCK_TARGET, DOMAIN, 0, 0, MAX_PENDING, True, True, 0, 0, [], [], 0, 1, HOUR)
    act.unlock()
    assert one_event(pam, "Alarm").kind == ALARM_UNLOCK_LIMIT
    with boa.reverts("requests: unlock limit"):
        act.unlock()
