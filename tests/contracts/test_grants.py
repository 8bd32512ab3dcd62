"""Grants: the [start, expiry) window, revocation, recorded expiry and the per-principal list."""

import boa
import pytest
from pamkit import (
    ACTIVE,
    DOMAIN,
    END_EXPIRED,
    END_REVOKED,
    ENDED,
    GROUP,
    HOUR,
    SELF_GROUP,
    ZERO_ADDRESS,
    World,
    one_event,
)

ALICE = World.id("alice")


def test_is_active__false_at_expiry_whatever_happened(pam, act):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR - 1)
    assert pam.is_active(request_id)
    assert pam.status_of(request_id) == ACTIVE
    boa.env.time_travel(seconds=1)
    assert not pam.is_active(request_id)
    assert pam.status_of(request_id) == ENDED
    assert pam.request(request_id).status == ACTIVE  # nobody recorded it; nothing depends on that
    assert pam.active_grants(ALICE) == []


@pytest.mark.parametrize("who", ["alice", "bob", "erin", "council"])
def test_revoke__by_requester_approver_or_council(pam, act, world, who):
    request_id = act.grant()
    sender = world.council[1] if who == "council" else world.devices[who]
    with boa.env.prank(sender):
        pam.revoke(request_id)
    ended = one_event(pam, "GrantEnded")
    assert (ended.request_id, ended.subject, ended.target, ended.domain, ended.reason, ended.by) == (
        request_id,
        ALICE,
        GROUP,
        DOMAIN,
        END_REVOKED,
        sender,
    )
    assert not pam.is_active(request_id)
    assert pam.status_of(request_id) == ENDED
    assert pam.grant_end(request_id) == (END_REVOKED, boa.env.timestamp, sender)
    assert pam.active_grants(ALICE) == []


def test_revoke__by_governance_proposal(council, governed, act):
    request_id = act.grant()
    act.govern(act.proposal(governed, "revoke", request_id))
    assert one_event(council, "GrantEnded", by=governed).by == council.address
    assert not governed.is_active(request_id)


@pytest.mark.parametrize("who", ["stranger", "dave", "oracle"])
def test_revoke__by_stranger__reverts(pam, act, world, who):
    request_id = act.grant()
    sender = {"stranger": world.stranger, "dave": world.devices["dave"], "oracle": world.oracle}[who]
    with boa.env.prank(sender), boa.reverts("grants: not authorized"):
        pam.revoke(request_id)


def test_revoke__by_suspended_approver__reverts(pam, act, world):
    request_id = act.grant()
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("erin"))
    with act.as_("erin"), boa.reverts("grants: not authorized"):
        pam.revoke(request_id)


def test_revoke__by_rotated_old_device__reverts(pam, act, world):
    request_id = act.grant()
    with boa.env.prank(world.deployer):
        pam.rotate_device(ALICE, boa.env.generate_address("alice-new"))
    with act.as_("alice"), boa.reverts("grants: not authorized"):
        pam.revoke(request_id)


def test_revoke__expired_grant__reverts(pam, act):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR)
    with act.as_("alice"), boa.reverts("grants: expired"):
        pam.revoke(request_id)


def test_revoke__twice__reverts(pam, act):
    request_id = act.grant()
    with act.as_("alice"):
        pam.revoke(request_id)
        with boa.reverts("grants: not active"):
            pam.revoke(request_id)


def test_revoke__pending_request__reverts(pam, act):
    request_id = act.elevate()
    with act.as_("alice"), boa.reverts("grants: not active"):
        pam.revoke(request_id)


def test_end_expired__anyone_after_expiry(pam, act, world):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR + 5)
    with boa.env.prank(world.stranger):
        pam.end_expired(request_id)
    ended = one_event(pam, "GrantEnded")
    assert (ended.request_id, ended.reason, ended.by) == (request_id, END_EXPIRED, world.stranger)
    assert pam.request(request_id).status == ENDED
    assert pam.grant_end(request_id).reason == END_EXPIRED


def test_end_expired__before_expiry__reverts(pam, act):
    request_id = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR - 1)
    with boa.reverts("grants: not expired"):
        pam.end_expired(request_id)


def test_end_expired__revoked__reverts(pam, act):
    request_id = act.grant(duration=HOUR)
    with act.as_("alice"):
        pam.revoke(request_id)
    boa.env.time_travel(seconds=HOUR)
    with boa.reverts("grants: not active"):
        pam.end_expired(request_id)


def test_grant_end__not_ended__zero(pam, act):
    request_id = act.grant()
    assert pam.grant_end(request_id) == (0, 0, ZERO_ADDRESS)


def test_active_grants__lists_only_live(pam, act):
    short = act.grant(duration=HOUR)
    long = act.grant(duration=2 * HOUR)
    revoked = act.grant(duration=2 * HOUR)
    with act.as_("alice"):
        pam.revoke(revoked)
    assert pam.active_grants(ALICE) == [short, long]
    boa.env.time_travel(seconds=HOUR)
    assert pam.active_grants(ALICE) == [long]


def test_activate__full_list__reverts(pam, act):
    for _ in range(16):
        act.elevate(target=SELF_GROUP, duration=HOUR)
    assert len(pam.active_grants(ALICE)) == 16
    with boa.reverts("grants: too many active"):
        act.elevate(target=SELF_GROUP, duration=HOUR)


def test_activate__expired_entries_pruned(pam, act):
    first = [act.elevate(target=SELF_GROUP, duration=HOUR) for _ in range(16)]
    boa.env.time_travel(seconds=HOUR)
    request_id = act.elevate(target=SELF_GROUP, duration=HOUR)
    assert one_event(pam, "GrantActivated").request_id == request_id
    assert pam.active_grants(ALICE) == [request_id]
    with boa.reverts("grants: not active"):
        pam.end_expired(first[-1] + 100)
    pam.end_expired(first[0])  # pruned from the list, still recordable
    assert one_event(pam, "GrantEnded").reason == END_EXPIRED
