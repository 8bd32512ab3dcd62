"""Council governance: construction, bootstrap, proposals (each with its target) and the governed council functions."""

import boa
import pytest
from pamkit import (
    BOOTSTRAP_TTL,
    DAY,
    HOUR,
    NODE,
    OPERATOR_ROLE,
    ZERO_ADDRESS,
    World,
    events,
    h,
    one_event,
)


def test_init__seeds_council_and_bootstrap(council_deployer, world):
    with boa.env.prank(world.deployer):
        council = council_deployer.deploy(list(world.council), 2, DAY, DAY)
    added = events(council, "CouncilMemberAdded")
    assert [e.member for e in added] == list(world.council)
    assert one_event(council, "ThresholdSet").threshold == 2
    assert council.council_members() == list(world.council)
    assert council.council_threshold() == 2
    assert council.proposal_ttl() == DAY
    assert council.bootstrapper() == world.deployer
    assert council.bootstrapping()
    assert all(council.is_council(m) for m in world.council)


@pytest.mark.parametrize("threshold", [0, 1, 4])
def test_init__bad_threshold__reverts(deploy_council, threshold):
    with boa.reverts("council: bad threshold"):
        deploy_council(threshold=threshold)


def test_init__zero_member__reverts(deploy_council, world):
    with boa.reverts("council: zero address"):
        deploy_council(members=[world.council[0], ZERO_ADDRESS])


def test_init__duplicate_member__reverts(deploy_council, world):
    with boa.reverts("council: duplicate member"):
        deploy_council(members=[world.council[0], world.council[0]])


def test_init__zero_ttl__reverts(deploy_council):
    with boa.reverts("council: zero ttl"):
        deploy_council(ttl=0)


def test_end_bootstrap__ends_direct_power(council, pam, world):
    with boa.env.prank(world.deployer):
        council.end_bootstrap()
        assert one_event(council, "BootstrapEnded").bootstrapper == world.deployer
        assert not council.bootstrapping()
        assert not pam.is_account_allowed(world.deployer)
        with boa.reverts("council: not governance"):
            council.set_threshold(3)
        with boa.reverts("council: not governance"):
            pam.set_roles(world.stranger, OPERATOR_ROLE)
        with boa.reverts("council: bootstrap ended"):
            council.end_bootstrap()


def test_end_bootstrap__not_bootstrapper__reverts(council, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not bootstrapper"):
        council.end_bootstrap()


@pytest.mark.usefixtures("governed")
@pytest.mark.parametrize("who", ["council0", "stranger", "deployer"])
def test_governed__non_governance_caller__reverts(council, world, who):
    sender = {"council0": world.council[0], "stranger": world.stranger, "deployer": world.deployer}[who]
    with boa.env.prank(sender), boa.reverts("council: not governance"):
        council.add_council_member(world.stranger)


def test_bootstrapper__governs_directly(council, world):
    with boa.env.prank(world.deployer):
        council.add_council_member(world.stranger)
    assert one_event(council, "CouncilMemberAdded").member == world.stranger
    assert council.is_council(world.stranger)


@pytest.mark.usefixtures("governed")
def test_propose__counts_proposer_approval(council, act, world):
    call = act.proposal(council, "set_threshold", 3)
    with boa.env.prank(world.council[0]):
        proposal_id = council.propose(call.target, call.data)
    created = one_event(council, "ProposalCreated")
    assert (created.proposal_id, created.proposer, created.target, created.data) == (
        1,
        world.council[0],
        council.address,
        call.data,
    )
    assert created.expires == boa.env.timestamp + DAY
    approved = one_event(council, "ProposalApproved")
    assert (approved.approvals, approved.threshold) == (1, 2)
    assert proposal_id == 1 == council.proposal_count()
    proposal = council.proposal(1)
    assert (proposal.proposer, proposal.target, proposal.approvals, proposal.executed) == (
        world.council[0],
        council.address,
        1,
        False,
    )
    assert council.has_approved_proposal(1, world.council[0])


@pytest.mark.usefixtures("governed")
def test_propose__not_member__reverts(council, act, world):
    call = act.proposal(council, "set_threshold", 3)
    with boa.env.prank(world.stranger), boa.reverts("council: not member"):
        council.propose(call.target, call.data)


@pytest.mark.usefixtures("governed")
def test_propose__empty__reverts(council, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: empty proposal"):
        council.propose(council.address, b"")


@pytest.mark.usefixtures("governed")
@pytest.mark.parametrize("target", ["eoa", "zero"])
def test_propose__target_not_a_contract__reverts(council, pam, act, world, target):
    # Calldata meant for PamChain, sent to an account with no code: the call would "succeed" and do nothing.
    address = world.stranger if target == "eoa" else ZERO_ADDRESS
    data = act.proposal(pam, "set_roles", world.stranger, OPERATOR_ROLE).data
    with boa.env.prank(world.council[0]), boa.reverts("council: target not a contract"):
        council.propose(address, data)
    assert council.proposal_count() == 0


@pytest.mark.usefixtures("governed")
def test_approve_proposal__quorum_executes(council, act, world):
    act.govern(act.proposal(council, "set_threshold", 3))
    assert one_event(council, "ThresholdSet").threshold == 3
    executed = one_event(council, "ProposalExecuted")
    assert (executed.proposal_id, executed.executor) == (1, world.council[1])
    assert council.council_threshold() == 3
    assert council.proposal(1).executed


def test_approve_proposal__targeting_pam__executes(council, governed, act, world):
    call = act.proposal(governed, "set_roles", world.stranger, OPERATOR_ROLE)
    proposal_id = act.propose(call)
    assert one_event(council, "ProposalCreated").target == governed.address
    assert governed.roles_of(world.stranger) == 0  # one approval is not a quorum
    with boa.env.prank(world.council[2]):
        council.approve_proposal(proposal_id)
    roles_set = one_event(council, "RolesSet", by=governed)
    assert (roles_set.account, roles_set.roles) == (world.stranger, OPERATOR_ROLE)
    assert one_event(council, "ProposalExecuted", by=council).proposal_id == proposal_id
    assert governed.roles_of(world.stranger) == OPERATOR_ROLE
    assert council.proposal(proposal_id).target == governed.address


@pytest.mark.usefixtures("governed")
def test_approve_proposal__targeting_network__executes(council, network, act, world):
    proposal_id = act.govern(act.proposal(network, "set_node", h("node:site-b"), True))
    node_set = one_event(council, "NodeSet", by=network)
    assert (node_set.node_id, node_set.allowed) == (h("node:site-b"), True)
    assert one_event(council, "ProposalExecuted").proposal_id == proposal_id
    assert council.proposal(proposal_id).target == network.address
    assert network.is_node_allowed(h("node:site-b"))
    assert network.node_count() == 2


@pytest.mark.usefixtures("governed")
def test_approve_proposal__target_revert_bubbles(council, network, act, world):
    # The inner revert of the *target* surfaces unchanged, and the proposal stays open.
    proposal_id = act.propose(act.proposal(network, "set_node", NODE, False))
    with boa.env.prank(world.council[1]), boa.reverts("nodes: last node"):
        council.approve_proposal(proposal_id)
    assert not council.proposal(proposal_id).executed
    assert network.is_node_allowed(NODE)


def test_approve_proposal__governs_every_setter(council, governed, act, world):
    act.govern(act.proposal(governed, "set_roles", world.stranger, OPERATOR_ROLE))
    assert one_event(council, "RolesSet", by=governed).account == world.stranger
    assert governed.roles_of(world.stranger) == OPERATOR_ROLE
    act.govern(act.proposal(council, "add_council_member", world.stranger))
    assert one_event(council, "CouncilMemberAdded").member == world.stranger
    assert council.is_council(world.stranger)
    act.govern(act.proposal(council, "remove_council_member", world.council[2]))
    assert one_event(council, "CouncilMemberRemoved").member == world.council[2]
    assert not council.is_council(world.council[2])
    assert set(council.council_members()) == {world.council[0], world.council[1], world.stranger}


@pytest.mark.usefixtures("governed")
def test_approve_proposal__inner_revert_bubbles_and_stays_open(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 9))
    with boa.env.prank(world.council[1]), boa.reverts("council: bad threshold"):
        council.approve_proposal(proposal_id)
    assert not council.proposal(proposal_id).executed
    assert not council.has_approved_proposal(proposal_id, world.council[1])


@pytest.mark.usefixtures("governed")
def test_approve_proposal__twice__reverts(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3))
    with boa.env.prank(world.council[0]), boa.reverts("council: already approved"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__not_member__reverts(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3))
    with boa.env.prank(world.stranger), boa.reverts("council: not member"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__unknown__reverts(council, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: unknown proposal"):
        council.approve_proposal(7)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__expired__reverts(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3))
    boa.env.time_travel(seconds=DAY)
    with boa.env.prank(world.council[1]), boa.reverts("council: proposal expired"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__executed__reverts(council, act, world):
    proposal_id = act.govern(act.proposal(council, "set_threshold", 3))
    with boa.env.prank(world.council[2]), boa.reverts("council: proposal closed"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__removed_member_stops_counting(council, act, world):
    pending = act.propose(act.proposal(council, "add_council_member", world.stranger), member=2)
    act.govern(act.proposal(council, "remove_council_member", world.council[2]))
    with boa.env.prank(world.council[0]):
        council.approve_proposal(pending)
    assert one_event(council, "ProposalApproved").approvals == 1
    assert not council.is_council(world.stranger)
    with boa.env.prank(world.council[1]):
        council.approve_proposal(pending)
    assert council.is_council(world.stranger)


@pytest.mark.usefixtures("governed")
def test_cancel_proposal__by_proposer(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3))
    with boa.env.prank(world.council[0]):
        council.cancel_proposal(proposal_id)
    cancelled = one_event(council, "ProposalCancelled")
    assert (cancelled.proposal_id, cancelled.proposer) == (proposal_id, world.council[0])
    with boa.env.prank(world.council[1]), boa.reverts("council: proposal closed"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_cancel_proposal__by_another__reverts(council, act, world):
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3))
    with boa.env.prank(world.council[1]), boa.reverts("council: not proposer"):
        council.cancel_proposal(proposal_id)


def test_add_council_member__duplicate__reverts(council, world):
    with boa.env.prank(world.deployer), boa.reverts("council: duplicate member"):
        council.add_council_member(world.council[1])


def test_add_council_member__zero__reverts(council, world):
    with boa.env.prank(world.deployer), boa.reverts("council: zero address"):
        council.add_council_member(ZERO_ADDRESS)


def test_add_council_member__full__reverts(council, world):
    with boa.env.prank(world.deployer):
        for i in range(13):
            council.add_council_member(boa.env.generate_address(f"extra{i}"))
        with boa.reverts("council: full"):
            council.add_council_member(world.stranger)


def test_remove_council_member__below_threshold__reverts(council, world):
    with boa.env.prank(world.deployer):
        council.set_threshold(3)
        with boa.reverts("council: below threshold"):
            council.remove_council_member(world.council[0])


def test_remove_council_member__not_member__reverts(council, world):
    with boa.env.prank(world.deployer), boa.reverts("council: not member"):
        council.remove_council_member(world.stranger)


def test_remove_council_member__last_in_list(council, world):
    with boa.env.prank(world.deployer):
        council.remove_council_member(world.council[2])
    assert council.council_members() == [world.council[0], world.council[1]]


@pytest.mark.parametrize("threshold", [1, 4])
def test_set_threshold__bad__reverts(council, world, threshold):
    with boa.env.prank(world.deployer), boa.reverts("council: bad threshold"):
        council.set_threshold(threshold)


# -- issue 12: bootstrap that ends, approvals of removed members that stay dead -------------------------


@pytest.mark.parametrize("bootstrap_ttl", [0, 30 * DAY + 1])
def test_init__bad_bootstrap_ttl__reverts(deploy_council, bootstrap_ttl):
    with boa.reverts("council: bad bootstrap ttl"):
        deploy_council(bootstrap_ttl=bootstrap_ttl)


def test_init__bootstrap_deadline(deploy_council):
    council = deploy_council(bootstrap_ttl=HOUR)
    assert council.bootstrap_deadline() == boa.env.timestamp + HOUR
    assert council.bootstrapping()


def test_bootstrap__expires_at_deadline(council, pam, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL)
    assert not council.bootstrapping()
    assert not pam.is_account_allowed(world.deployer)
    with boa.env.prank(world.deployer):
        with boa.reverts("council: not governance"):
            council.add_council_member(world.stranger)
        with boa.reverts("council: bootstrap ended"):
            council.end_bootstrap()
    with boa.env.prank(world.deployer), boa.reverts("suspension: not council"):
        pam.suspend(World.id("alice"))


def test_bootstrap__one_second_before_deadline_still_open(council, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL - 1)
    assert council.bootstrapping()
    with boa.env.prank(world.deployer):
        council.add_council_member(world.stranger)
    assert one_event(council, "CouncilMemberAdded").member == world.stranger


def test_end_bootstrap__by_council_proposal(council, pam, act, world):
    # Issue 12: a deployment left bootstrapping used to be closable by its deployer only.
    proposal_id = act.govern(act.proposal(council, "end_bootstrap"))
    assert one_event(council, "BootstrapEnded").bootstrapper == world.deployer
    assert one_event(council, "ProposalExecuted").proposal_id == proposal_id
    assert not council.bootstrapping()
    assert council.bootstrap_deadline() == boa.env.timestamp
    with boa.env.prank(world.deployer):
        with boa.reverts("council: not governance"):
            council.add_council_member(world.stranger)
        with boa.reverts("council: not governance"):
            pam.set_roles(world.stranger, OPERATOR_ROLE)


def test_end_bootstrap__after_deadline_by_council__reverts(council, act, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL)
    proposal_id = act.propose(act.proposal(council, "end_bootstrap"))
    with boa.env.prank(world.council[1]), boa.reverts("council: bootstrap ended"):
        council.approve_proposal(proposal_id)


@pytest.mark.usefixtures("governed")
def test_approve_proposal__removed_then_readded_member__old_approval_void(council, act, world):
    c0, c1 = world.council[:2]
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3), member=0)
    act.govern(act.proposal(council, "remove_council_member", c0), approvers=(1, 2))
    act.govern(act.proposal(council, "add_council_member", c0), approvers=(1, 2))
    assert not council.has_approved_proposal(proposal_id, c0)
    with boa.env.prank(c1):
        council.approve_proposal(proposal_id)
    approved = one_event(council, "ProposalApproved")
    assert (approved.member, approved.approvals, approved.threshold) == (c1, 1, 2)
    assert events(council, "ProposalExecuted") == []
    assert council.council_threshold() == 2
    # The re-added member approves afresh, and that approval counts.
    with boa.env.prank(c0):
        council.approve_proposal(proposal_id)
    assert one_event(council, "ThresholdSet").threshold == 3
    assert one_event(council, "ProposalApproved").approvals == 2


@pytest.mark.usefixtures("governed")
def test_approve_proposal__removed_member__approval_stops_counting(council, act, world):
    c0, c1 = world.council[:2]
    act.govern(act.proposal(council, "add_council_member", world.stranger), approvers=(1, 2))
    proposal_id = act.propose(act.proposal(council, "set_threshold", 3), member=0)
    act.govern(act.proposal(council, "remove_council_member", c0), approvers=(1, 2))
    assert not council.has_approved_proposal(proposal_id, c0)
    with boa.env.prank(c1):
        council.approve_proposal(proposal_id)
    assert one_event(council, "ProposalApproved").approvals == 1
    assert not council.proposal(proposal_id).executed
