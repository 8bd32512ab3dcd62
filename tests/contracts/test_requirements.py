"""Policy requirements: a group policy may require every elevation to carry a justification and a ticket."""

import boa
import pytest
from pamkit import GROUP, HOUR, OTHER_GROUP, ZERO32, h, one_event

JUSTIFICATION, TICKET = 1, 2
WHY, CHG = h("why"), h("CHG-1")


def _require(pam, world, requirements, target=GROUP):
    with boa.env.prank(world.deployer):
        pam.set_requirements(target, requirements)


def _elevate(pam, act, justification=WHY, ticket=CHG, target=GROUP):
    with act.as_("alice"):
        return pam.request_elevation(target, HOUR, justification, ticket, False)


def test_set_requirements__stores_and_logs(pam, world):
    _require(pam, world, JUSTIFICATION | TICKET)
    logged = one_event(pam, "PolicyRequirementsSet")
    assert (logged.target, logged.requirements) == (GROUP, 3)
    assert pam.requirements(GROUP) == JUSTIFICATION | TICKET
    assert pam.requirements(OTHER_GROUP) == 0


@pytest.mark.parametrize(
    ("target", "requirements", "reason"),
    [(ZERO32, 1, "policies: zero target"), (GROUP, 4, "policies: bad requirements")],
)
def test_set_requirements__bad_args__reverts(pam, world, target, requirements, reason):
    with boa.env.prank(world.deployer), boa.reverts(reason):
        pam.set_requirements(target, requirements)


def test_set_requirements__not_governance__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        governed.set_requirements(GROUP, JUSTIFICATION)


def test_set_requirements__through_proposal(council, governed, act):
    act.govern(act.proposal(governed, "set_requirements", GROUP, TICKET))
    assert one_event(council, "PolicyRequirementsSet", by=governed).requirements == TICKET
    assert governed.requirements(GROUP) == TICKET


def test_request_elevation__justification_required__reverts(pam, act, world):
    _require(pam, world, JUSTIFICATION)
    with act.as_("alice"), boa.reverts("requests: justification required"):
        pam.request_elevation(GROUP, HOUR, ZERO32, h("CHG-1"), False)


def test_request_elevation__ticket_required__reverts(pam, act, world):
    _require(pam, world, TICKET)
    with act.as_("alice"), boa.reverts("requests: ticket required"):
        pam.request_elevation(GROUP, HOUR, h("why"), ZERO32, False)


def test_request_elevation__both_required_and_given(pam, act, world):
    _require(pam, world, JUSTIFICATION | TICKET)
    request_id = _elevate(pam, act)
    created = one_event(pam, "RequestCreated")
    assert (created.request_id, created.justification_hash, created.ticket_ref) == (
        request_id,
        h("why"),
        h("CHG-1"),
    )


def test_request_elevation__no_requirements__empty_accepted(pam, act):
    assert _elevate(pam, act, ZERO32, ZERO32) == 1


def test_requirements__kept_by_set_policy(pam, world):
    _require(pam, world, TICKET)
    from pamkit import World

    args = next(a for a in World.policies() if a[0] == GROUP)
    with boa.env.prank(world.deployer):
        pam.set_policy(*args)
    assert pam.requirements(GROUP) == TICKET


def test_requirements__not_applied_to_unlock(pam, act, world):
    from pamkit import UNLOCK_TARGET

    _require(pam, world, JUSTIFICATION | TICKET, target=UNLOCK_TARGET)
    assert act.unlock() == 1
