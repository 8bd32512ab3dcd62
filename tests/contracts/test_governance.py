"""Governance: how PamChain, PamNetwork and PamReviews recognise their council (the council, or its bootstrapper while
it lasts)."""

import boa
import pytest
from pamkit import (
    BOOTSTRAP_TTL,
    DOMAIN,
    HOUR,
    MAX_PENDING,
    OPERATOR_ROLE,
    ZERO_ADDRESS,
    World,
    h,
    one_event,
)

ALICE = World.id("alice")


# Every governed function of PamChain, PamNetwork and PamReviews, by contract.
GOVERNED = [
    ("pam", "set_roles"),
    ("pam", "set_oracle"),
    ("pam", "remove_oracle"),
    ("pam", "enrol"),
    ("pam", "rotate_device"),
    ("pam", "reinstate"),
    ("pam", "set_policy"),
    ("pam", "set_requirements"),
    ("pam", "set_leaver_rule"),
    ("network", "set_node"),
    ("reviews", "open_campaign"),
    ("reviews", "cancel_campaign"),
]


def _valid_args(fn, world):
    """Arguments with which `fn` succeeds for governance in the bootstrapped world."""
    policy = (h("group:new"), DOMAIN, 1, HOUR, MAX_PENDING, False, True, 0, 0, [World.id("bob")], [ALICE])
    return {
        "set_roles": (world.stranger, OPERATOR_ROLE),
        "set_oracle": (DOMAIN, world.stranger, h("x25519:new")),
        "remove_oracle": (DOMAIN, world.oracle),
        "enrol": (world.stranger, h("principal:frank"), DOMAIN),
        "rotate_device": (ALICE, world.stranger),
        "reinstate": (ALICE,),
        "set_policy": (*policy, 0, 0, 0),
        "set_requirements": (h("group:new"), 3),
        "set_leaver_rule": (DOMAIN, True),
        "set_node": (h("node:site-b"), True),
        "open_campaign": (1, [ALICE], 1, 1, boa.env.timestamp + BOOTSTRAP_TTL + HOUR, h("label")),
        "cancel_campaign": (1,),
    }[fn]


@pytest.fixture
def governed_call(council, pam, network, reviews, act, world):
    """Factory: (contract, function name, valid arguments) for a GOVERNED entry (`reinstate` suspends first,
    `cancel_campaign` opens campaign 1 first)."""

    def _make(contract_name, fn):
        if fn == "reinstate":
            with boa.env.prank(world.council[0]):
                pam.suspend(ALICE)
        if fn == "cancel_campaign" and council.bootstrapping():
            with boa.env.prank(world.deployer):
                reviews.open_campaign(*_valid_args("open_campaign", world))
        elif fn == "cancel_campaign":
            act.govern(act.proposal(reviews, "open_campaign", *_valid_args("open_campaign", world)))
        contracts = {"pam": pam, "network": network, "reviews": reviews}
        return contracts[contract_name], fn, _valid_args(fn, world)

    return _make


def test_init__binds_the_council(council, pam, network, reviews):
    assert pam.council() == council.address
    assert network.council() == council.address
    assert reviews.council() == council.address


@pytest.mark.parametrize("deployable", ["pam", "network"])
@pytest.mark.parametrize("bound_to", ["eoa", "zero"])
def test_init__council_not_a_contract__reverts(pam_deployer, network_deployer, world, deployable, bound_to):
    deployer = {"pam": pam_deployer, "network": network_deployer}[deployable]
    address = world.council[0] if bound_to == "eoa" else ZERO_ADDRESS
    with boa.env.prank(world.deployer), boa.reverts("governance: council not a contract"):
        deployer.deploy(address)


@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
def test_governed__bootstrapper_in_window__succeeds(governed_call, world, contract_name, fn):
    contract, fn, args = governed_call(contract_name, fn)
    with boa.env.prank(world.deployer):
        getattr(contract, fn)(*args)


@pytest.mark.usefixtures("governed")
@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
def test_governed__executed_proposal__succeeds(council, governed_call, act, contract_name, fn):
    contract, fn, args = governed_call(contract_name, fn)
    proposal_id = act.govern(act.proposal(contract, fn, *args))
    assert one_event(council, "ProposalExecuted").proposal_id == proposal_id


@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
@pytest.mark.parametrize("who", ["council member", "stranger", "oracle", "device"])
def test_governed__direct_caller__reverts(governed_call, world, contract_name, fn, who):
    # Even during the bootstrap window: only the bootstrapper may act alone, a council member never.
    contract, fn, args = governed_call(contract_name, fn)
    sender = {
        "council member": world.council[0],
        "stranger": world.stranger,
        "oracle": world.oracle,
        "device": world.devices["alice"],
    }[who]
    with boa.env.prank(sender), boa.reverts("council: not governance"):
        getattr(contract, fn)(*args)


@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
@pytest.mark.parametrize("how", ["end_bootstrap", "deadline"])
def test_governed__bootstrapper_after_bootstrap__reverts(
    council, governed_call, world, contract_name, fn, how
):
    contract, fn, args = governed_call(contract_name, fn)
    if how == "end_bootstrap":
        with boa.env.prank(world.deployer):
            council.end_bootstrap()
    else:
        boa.env.time_travel(seconds=BOOTSTRAP_TTL)
    with boa.env.prank(world.deployer), boa.reverts("council: not governance"):
        getattr(contract, fn)(*args)


@pytest.fixture
def rival(deploy_council, world):
    """A second Council with the same members, bootstrapped by another account, its bootstrap still open."""
    return deploy_council(deployer=world.stranger)


@pytest.mark.usefixtures("governed")
@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
def test_rival_council__proposal__refused(rival, governed_call, world, contract_name, fn):
    contract, fn, args = governed_call(contract_name, fn)
    call = getattr(contract, fn).prepare_calldata(*args)
    with boa.env.prank(world.council[0]):
        proposal_id = rival.propose(contract.address, call)
    with boa.env.prank(world.council[1]), boa.reverts("council: not governance"):
        rival.approve_proposal(proposal_id)
    assert not rival.proposal(proposal_id).executed


@pytest.mark.parametrize(("contract_name", "fn"), GOVERNED)
def test_rival_council__bootstrapper__refused(rival, governed_call, world, contract_name, fn):
    # The rival's bootstrapper is in its window, but it is not the bound council's bootstrapper.
    assert rival.bootstrapping() and rival.bootstrapper() == world.stranger
    contract, fn, args = governed_call(contract_name, fn)
    with boa.env.prank(world.stranger), boa.reverts("council: not governance"):
        getattr(contract, fn)(*args)


@pytest.mark.usefixtures("governed")
def test_rival_council__single_member_actions__refused(rival, pam, act, world):
    # A member of the rival only: suspend and revoke check membership of the bound council.
    request_id = act.grant()
    with boa.env.prank(world.stranger):
        rival.add_council_member(world.operator)
    assert rival.is_council(world.operator)
    with boa.env.prank(world.operator):
        with boa.reverts("suspension: not council"):
            pam.suspend(ALICE)
        with boa.reverts("grants: not authorized"):
            pam.revoke(request_id)


def test_single_member_actions__follow_the_council(council, pam, act, world):
    """`suspend`, `revoke` and the allowlist ask the council contract who its members are, every time."""
    request_id = act.grant()
    assert not pam.is_account_allowed(world.stranger)
    with boa.env.prank(world.deployer):
        council.add_council_member(world.stranger)
        council.remove_council_member(world.council[2])
    assert pam.is_account_allowed(world.stranger)
    assert not pam.is_account_allowed(world.council[2])
    with boa.env.prank(world.council[2]):
        with boa.reverts("suspension: not council"):
            pam.suspend(ALICE)
        with boa.reverts("grants: not authorized"):
            pam.revoke(request_id)
    with boa.env.prank(world.stranger):
        pam.revoke(request_id)
        assert one_event(pam, "GrantEnded").by == world.stranger
        pam.suspend(ALICE)
    assert one_event(pam, "PrincipalSuspended").by == world.stranger
