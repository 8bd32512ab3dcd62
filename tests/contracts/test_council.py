"""Council governance: construction, bootstrap, proposals and the governed council functions."""

import boa
import pytest
from pamkit import BOOTSTRAP_TTL, DAY, HOUR, OPERATOR_ROLE, ZERO_ADDRESS, World, events, one_event


def test_init__seeds_council_and_bootstrap(pam_deployer, world):
    with boa.env.prank(world.deployer):
        pam = pam_deployer.deploy(list(world.council), 2, DAY, DAY)
    added = events(pam, "CouncilMemberAdded")
    assert [e.member for e in added] == list(world.council)
    assert one_event(pam, "ThresholdSet").threshold == 2
    assert pam.council_members() == list(world.council)
    assert pam.council_threshold() == 2
    assert pam.proposal_ttl() == DAY
    assert pam.bootstrapper() == world.deployer
    assert pam.bootstrapping()
    assert all(pam.is_council(m) for m in world.council)


@pytest.mark.parametrize("threshold", [0, 1, 4])
def test_init__bad_threshold__reverts(deploy, threshold):
    with boa.reverts("council: bad threshold"):
        deploy(threshold=threshold)


def test_init__zero_member__reverts(deploy, world):
    with boa.reverts("council: zero address"):
        deploy(members=[world.council[0], ZERO_ADDRESS])


def test_init__duplicate_member__reverts(deploy, world):
    with boa.reverts("council: duplicate member"):
        deploy(members=[world.council[0], world.council[0]])


def test_init__zero_ttl__reverts(deploy):
    with boa.reverts("council: zero ttl"):
        deploy(ttl=0)


def test_end_bootstrap__ends_direct_power(pam, world):
    with boa.env.prank(world.deployer):
        pam.end_bootstrap()
        assert one_event(pam, "BootstrapEnded").bootstrapper == world.deployer
        assert not pam.bootstrapping()
        assert not pam.is_account_allowed(world.deployer)
        with boa.reverts("council: not governance"):
            pam.set_threshold(3)
        with boa.reverts("council: bootstrap ended"):
            pam.end_bootstrap()


def test_end_bootstrap__not_bootstrapper__reverts(pam, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not bootstrapper"):
        pam.end_bootstrap()


@pytest.mark.parametrize("who", ["council0", "stranger"])
def test_governed__non_governance_caller__reverts(governed, world, who):
    sender = world.council[0] if who == "council0" else world.stranger
    with boa.env.prank(sender), boa.reverts("council: not governance"):
        governed.add_council_member(world.stranger)


def test_bootstrapper__governs_directly(pam, world):
    with boa.env.prank(world.deployer):
        pam.add_council_member(world.stranger)
    assert one_event(pam, "CouncilMemberAdded").member == world.stranger
    assert pam.is_council(world.stranger)


def test_propose__counts_proposer_approval(governed, act, world):
    data = act.calldata("set_threshold", 3)
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(data)
    created = one_event(governed, "ProposalCreated")
    assert (created.proposal_id, created.proposer, created.data) == (1, world.council[0], data)
    assert created.expires == boa.env.timestamp + DAY
    approved = one_event(governed, "ProposalApproved")
    assert (approved.approvals, approved.threshold) == (1, 2)
    assert proposal_id == 1 == governed.proposal_count()
    proposal = governed.proposal(1)
    assert (proposal.proposer, proposal.approvals, proposal.executed) == (world.council[0], 1, False)
    assert governed.has_approved_proposal(1, world.council[0])


def test_propose__not_member__reverts(governed, act, world):
    with boa.env.prank(world.stranger), boa.reverts("council: not member"):
        governed.propose(act.calldata("set_threshold", 3))


def test_propose__empty__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: empty proposal"):
        governed.propose(b"")


def test_approve_proposal__quorum_executes(governed, act, world):
    act.govern(act.calldata("set_threshold", 3))
    assert one_event(governed, "ThresholdSet").threshold == 3
    executed = one_event(governed, "ProposalExecuted")
    assert (executed.proposal_id, executed.executor) == (1, world.council[1])
    assert governed.council_threshold() == 3
    assert governed.proposal(1).executed


def test_approve_proposal__governs_every_setter(governed, act, world):
    act.govern(act.calldata("set_roles", world.stranger, OPERATOR_ROLE))
    assert one_event(governed, "RolesSet").account == world.stranger
    assert governed.roles_of(world.stranger) == OPERATOR_ROLE
    act.govern(act.calldata("add_council_member", world.stranger))
    assert one_event(governed, "CouncilMemberAdded").member == world.stranger
    assert governed.is_council(world.stranger)
    act.govern(act.calldata("remove_council_member", world.council[2]))
    assert one_event(governed, "CouncilMemberRemoved").member == world.council[2]
    assert not governed.is_council(world.council[2])
    assert set(governed.council_members()) == {world.council[0], world.council[1], world.stranger}


def test_approve_proposal__inner_revert_bubbles_and_stays_open(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 9))
    with boa.env.prank(world.council[1]), boa.reverts("council: bad threshold"):
        governed.approve_proposal(proposal_id)
    assert not governed.proposal(proposal_id).executed
    assert not governed.has_approved_proposal(proposal_id, world.council[1])


def test_approve_proposal__twice__reverts(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
        with boa.reverts("council: already approved"):
            governed.approve_proposal(proposal_id)


def test_approve_proposal__not_member__reverts(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
    with boa.env.prank(world.stranger), boa.reverts("council: not member"):
        governed.approve_proposal(proposal_id)


def test_approve_proposal__unknown__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: unknown proposal"):
        governed.approve_proposal(7)


def test_approve_proposal__expired__reverts(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
    boa.env.time_travel(seconds=DAY)
    with boa.env.prank(world.council[1]), boa.reverts("council: proposal expired"):
        governed.approve_proposal(proposal_id)


def test_approve_proposal__executed__reverts(governed, act, world):
    proposal_id = act.govern(act.calldata("set_threshold", 3))
    with boa.env.prank(world.council[2]), boa.reverts("council: proposal closed"):
        governed.approve_proposal(proposal_id)


def test_approve_proposal__removed_member_stops_counting(governed, act, world):
    with boa.env.prank(world.council[2]):
        pending = governed.propose(act.calldata("add_council_member", world.stranger))
    act.govern(act.calldata("remove_council_member", world.council[2]))
    with boa.env.prank(world.council[0]):
        governed.approve_proposal(pending)
    assert one_event(governed, "ProposalApproved").approvals == 1
    assert not governed.is_council(world.stranger)
    with boa.env.prank(world.council[1]):
        governed.approve_proposal(pending)
    assert governed.is_council(world.stranger)


def test_cancel_proposal__by_proposer(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
        governed.cancel_proposal(proposal_id)
    cancelled = one_event(governed, "ProposalCancelled")
    assert (cancelled.proposal_id, cancelled.proposer) == (proposal_id, world.council[0])
    with boa.env.prank(world.council[1]), boa.reverts("council: proposal closed"):
        governed.approve_proposal(proposal_id)


def test_cancel_proposal__by_another__reverts(governed, act, world):
    with boa.env.prank(world.council[0]):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
    with boa.env.prank(world.council[1]), boa.reverts("council: not proposer"):
        governed.cancel_proposal(proposal_id)


def test_add_council_member__duplicate__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("council: duplicate member"):
        pam.add_council_member(world.council[1])


def test_add_council_member__zero__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("council: zero address"):
        pam.add_council_member(ZERO_ADDRESS)


def test_add_council_member__full__reverts(pam, world):
    with boa.env.prank(world.deployer):
        for i in range(13):
            pam.add_council_member(boa.env.generate_address(f"extra{i}"))
        with boa.reverts("council: full"):
            pam.add_council_member(world.stranger)


def test_remove_council_member__below_threshold__reverts(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_threshold(3)
        with boa.reverts("council: below threshold"):
            pam.remove_council_member(world.council[0])


def test_remove_council_member__not_member__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("council: not member"):
        pam.remove_council_member(world.stranger)


def test_remove_council_member__last_in_list(pam, world):
    with boa.env.prank(world.deployer):
        pam.remove_council_member(world.council[2])
    assert pam.council_members() == [world.council[0], world.council[1]]


@pytest.mark.parametrize("threshold", [1, 4])
def test_set_threshold__bad__reverts(pam, world, threshold):
    with boa.env.prank(world.deployer), boa.reverts("council: bad threshold"):
        pam.set_threshold(threshold)


# -- issue 12: bootstrap that ends, approvals of removed members that stay dead -------------------------


@pytest.mark.parametrize("bootstrap_ttl", [0, 30 * DAY + 1])
def test_init__bad_bootstrap_ttl__reverts(deploy, bootstrap_ttl):
    with boa.reverts("council: bad bootstrap ttl"):
        deploy(bootstrap_ttl=bootstrap_ttl)


def test_init__bootstrap_deadline(deploy):
    pam = deploy(bootstrap_ttl=HOUR)
    assert pam.bootstrap_deadline() == boa.env.timestamp + HOUR
    assert pam.bootstrapping()


def test_bootstrap__expires_at_deadline(pam, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL)
    assert not pam.bootstrapping()
    assert not pam.is_account_allowed(world.deployer)
    with boa.env.prank(world.deployer):
        with boa.reverts("council: not governance"):
            pam.add_council_member(world.stranger)
        with boa.reverts("council: bootstrap ended"):
            pam.end_bootstrap()
    with boa.env.prank(world.deployer), boa.reverts("suspension: not council"):
        pam.suspend(World.id("alice"))


def test_bootstrap__one_second_before_deadline_still_open(pam, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL - 1)
    assert pam.bootstrapping()
    with boa.env.prank(world.deployer):
        pam.add_council_member(world.stranger)
    assert one_event(pam, "CouncilMemberAdded").member == world.stranger


def test_end_bootstrap__by_council_proposal(pam, act, world):
    # Issue 12: a deployment left bootstrapping used to be closable by its deployer only.
    proposal_id = act.govern(act.calldata("end_bootstrap"))
    assert one_event(pam, "BootstrapEnded").bootstrapper == world.deployer
    assert one_event(pam, "ProposalExecuted").proposal_id == proposal_id
    assert not pam.bootstrapping()
    assert pam.bootstrap_deadline() == boa.env.timestamp
    with boa.env.prank(world.deployer), boa.reverts("council: not governance"):
        pam.add_council_member(world.stranger)


def test_end_bootstrap__after_deadline_by_council__reverts(pam, act, world):
    boa.env.time_travel(seconds=BOOTSTRAP_TTL)
    with boa.env.prank(world.council[0]):
        proposal_id = pam.propose(act.calldata("end_bootstrap"))
    with boa.env.prank(world.council[1]), boa.reverts("council: bootstrap ended"):
        pam.approve_proposal(proposal_id)


def test_approve_proposal__removed_then_readded_member__old_approval_void(governed, act, world):
    c0, c1 = world.council[:2]
    with boa.env.prank(c0):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
    act.govern(act.calldata("remove_council_member", c0), approvers=(1, 2))
    act.govern(act.calldata("add_council_member", c0), approvers=(1, 2))
    assert not governed.has_approved_proposal(proposal_id, c0)
    with boa.env.prank(c1):
        governed.approve_proposal(proposal_id)
    approved = one_event(governed, "ProposalApproved")
    assert (approved.member, approved.approvals, approved.threshold) == (c1, 1, 2)
    assert events(governed, "ProposalExecuted") == []
    assert governed.council_threshold() == 2
    # The re-added member approves afresh, and that approval counts.
    with boa.env.prank(c0):
        governed.approve_proposal(proposal_id)
    assert one_event(governed, "ThresholdSet").threshold == 3
    assert one_event(governed, "ProposalApproved").approvals == 2


def test_approve_proposal__removed_member__approval_stops_counting(governed, act, world):
    c0, c1 = world.council[:2]
    act.govern(act.calldata("add_council_member", world.stranger), approvers=(1, 2))
    with boa.env.prank(c0):
        proposal_id = governed.propose(act.calldata("set_threshold", 3))
    act.govern(act.calldata("remove_council_member", c0), approvers=(1, 2))
    assert not governed.has_approved_proposal(proposal_id, c0)
    with boa.env.prank(c1):
        governed.approve_proposal(proposal_id)
    assert one_event(governed, "ProposalApproved").approvals == 1
    assert not governed.proposal(proposal_id).executed
