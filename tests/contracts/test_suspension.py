"""Suspension: one council member stops a principal and ends all its grants; reinstatement is governed."""

import boa
from pamkit import (
    END_EXPIRED,
    END_SUSPENDED,
    ENDED,
    HOUR,
    MAX_PENDING,
    P_ACTIVE,
    P_SUSPENDED,
    PENDING,
    SELF_GROUP,
    World,
    events,
    one_event,
)

ALICE = World.id("alice")


def test_suspend__ends_every_live_grant(pam, act, world):
    grants = [act.grant(duration=2 * HOUR) for _ in range(3)]
    short = act.grant(duration=HOUR)
    boa.env.time_travel(seconds=HOUR)  # `short` is expired but not recorded ended
    with boa.env.prank(world.council[2]):
        pam.suspend(ALICE)
    suspended = one_event(pam, "PrincipalSuspended")
    assert (suspended.directory_id, suspended.by) == (ALICE, world.council[2])
    ended = events(pam, "GrantEnded")
    assert {(e.request_id, e.reason) for e in ended} == {(g, END_SUSPENDED) for g in grants} | {
        (short, END_EXPIRED)
    }
    assert all(e.by == world.council[2] and e.subject == ALICE for e in ended)
    assert not any(pam.is_active(g) for g in grants)
    assert all(pam.status_of(g) == ENDED for g in grants)
    assert pam.active_grants(ALICE) == []
    assert pam.principal(ALICE).status == P_SUSPENDED


def test_suspend__without_grants(pam, world):
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("bob"))
    assert one_event(pam, "PrincipalSuspended").directory_id == World.id("bob")
    assert events(pam, "GrantEnded") == []


def test_suspend__pending_request_cannot_be_approved(pam, act, world):
    request_id = act.elevate()
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    assert pam.status_of(request_id) == PENDING
    with act.as_("bob"), boa.reverts("requests: requester not active"):
        pam.approve(request_id)
    boa.env.time_travel(seconds=MAX_PENDING)
    pam.expire_request(request_id)
    assert one_event(pam, "RequestExpired").request_id == request_id


def test_suspend__by_governance(council, governed, act):
    act.govern(act.proposal(governed, "suspend", ALICE))
    assert one_event(council, "PrincipalSuspended", by=governed).by == council.address


def test_suspend__not_council__reverts(pam, act, world):
    for sender in (world.stranger, world.devices["bob"], world.oracle, world.operator):
        with boa.env.prank(sender), boa.reverts("suspension: not council"):
            pam.suspend(ALICE)


def test_suspend__twice__reverts(pam, world):
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
        with boa.reverts("principals: not active"):
            pam.suspend(ALICE)


def test_suspend__unknown__reverts(pam, world):
    with boa.env.prank(world.council[0]), boa.reverts("principals: not active"):
        pam.suspend(World.id("nobody"))


def test_reinstate__restores_requests_not_grants(pam, act, world):
    request_id = act.elevate(target=SELF_GROUP)
    with boa.env.prank(world.council[0]):
        pam.suspend(ALICE)
    with boa.env.prank(world.deployer):
        pam.reinstate(ALICE)
    assert one_event(pam, "PrincipalReinstated").directory_id == ALICE
    assert pam.principal(ALICE).status == P_ACTIVE
    assert not pam.is_active(request_id)
    assert act.unlock() == request_id + 1


def test_reinstate__single_council_member__reverts(governed, world):
    with boa.env.prank(world.council[0]):
        governed.suspend(ALICE)
        with boa.reverts("council: not governance"):
            governed.reinstate(ALICE)


def test_reinstate__by_proposal(council, governed, act, world):
    with boa.env.prank(world.council[0]):
        governed.suspend(ALICE)
    act.govern(act.proposal(governed, "reinstate", ALICE))
    assert one_event(council, "PrincipalReinstated", by=governed).directory_id == ALICE


def test_reinstate__not_suspended__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("principals: not suspended"):
        pam.reinstate(ALICE)
