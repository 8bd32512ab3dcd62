"""The node allowlist of PamNetwork: which node ids may connect, changed only by governance."""

import boa
import pytest
from pamkit import NODE, ZERO32, h, one_event

SITE_B = h("node:site-b")
SITE_C = h("node:site-c")


def test_bootstrap__one_node_allowed(network):
    assert network.is_node_allowed(NODE)
    assert not network.is_node_allowed(SITE_B)
    assert network.node_count() == 1


def test_set_node__allows_then_disallows(network, world):
    with boa.env.prank(world.deployer):
        network.set_node(SITE_B, True)
        added = one_event(network, "NodeSet")
        assert (added.node_id, added.allowed) == (SITE_B, True)
        assert network.is_node_allowed(SITE_B)
        assert network.node_count() == 2
        network.set_node(NODE, False)
    removed = one_event(network, "NodeSet")
    assert (removed.node_id, removed.allowed) == (NODE, False)
    assert not network.is_node_allowed(NODE)
    assert network.is_node_allowed(SITE_B)
    assert network.node_count() == 1


def test_set_node__readded(network, world):
    with boa.env.prank(world.deployer):
        network.set_node(SITE_B, True)
        network.set_node(SITE_B, False)
        network.set_node(SITE_B, True)
    assert one_event(network, "NodeSet").allowed
    assert network.is_node_allowed(SITE_B)
    assert network.node_count() == 2


@pytest.mark.parametrize(("node_id", "allowed"), [(NODE, True), (SITE_B, False)])
def test_set_node__unchanged__reverts(network, world, node_id, allowed):
    with boa.env.prank(world.deployer), boa.reverts("nodes: unchanged"):
        network.set_node(node_id, allowed)


def test_set_node__last_node__reverts(network, world):
    with boa.env.prank(world.deployer):
        with boa.reverts("nodes: last node"):
            network.set_node(NODE, False)
        # With a second node the first may go, and then the second is the last.
        network.set_node(SITE_B, True)
        network.set_node(NODE, False)
        with boa.reverts("nodes: last node"):
            network.set_node(SITE_B, False)
    assert network.node_count() == 1


@pytest.mark.parametrize("allowed", [True, False])
def test_set_node__zero_id__reverts(network, world, allowed):
    with boa.env.prank(world.deployer), boa.reverts("nodes: zero id"):
        network.set_node(ZERO32, allowed)


@pytest.mark.usefixtures("governed")
@pytest.mark.parametrize("who", ["deployer", "council0", "stranger"])
def test_set_node__not_governance__reverts(network, world, who):
    sender = {"deployer": world.deployer, "council0": world.council[0], "stranger": world.stranger}[who]
    with boa.env.prank(sender), boa.reverts("council: not governance"):
        network.set_node(SITE_B, True)


@pytest.mark.usefixtures("governed")
def test_set_node__through_proposals(council, network, act):
    act.govern(act.proposal(network, "set_node", SITE_B, True))
    act.govern(act.proposal(network, "set_node", SITE_C, True))
    act.govern(act.proposal(network, "set_node", NODE, False))
    removed = one_event(council, "NodeSet", by=network)
    assert (removed.node_id, removed.allowed) == (NODE, False)
    assert [network.is_node_allowed(n) for n in (NODE, SITE_B, SITE_C)] == [False, True, True]
    assert network.node_count() == 2


def test_fresh_network__starts_empty(council, network, network_deployer, world):
    with boa.env.prank(world.deployer):
        fresh = network_deployer.deploy(council.address)
        assert fresh.node_count() == 0
        with boa.reverts("nodes: unchanged"):
            fresh.set_node(NODE, False)
        fresh.set_node(NODE, True)
    assert one_event(fresh, "NodeSet").allowed
    assert fresh.node_count() == 1
    assert network.node_count() == 1  # the other deployment is untouched
