"""On-chain node permissioning (issue 13 item 6): the node allowlist is PamNetwork's, decided by the council
k-of-n, and every node follows it at its head without a restart - a removed site is dropped and refused, an
added one (absent from genesis) joins and catches up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_utils import keccak
from pamchain.node.genesis import contract_address
from pamchain.sdk.chain.client import PamClient, connect
from pamchain.sdk.chain.deployer import Plan, deploy_plan
from pamchain.sdk.chain.events import GenericEvent

from support.cluster import Cluster, Member, account, same_head, wait_for


def _peers(m: Member) -> int:
    return int(m.rpc.call("net_peerCount"), 16)


def _govern(clients: list[PamClient], allowed: bool, node: Member) -> None:
    """Two of three council members decide: the first proposes, the second's approval executes it."""
    proposed = clients[0].propose("set_node", keccak(node.node_key.node_id), allowed)
    proposal_id = next(
        e.args["proposal_id"]
        for e in proposed.events
        if isinstance(e, GenericEvent) and e.event == "ProposalCreated"
    )
    executed = clients[1].approve_proposal(proposal_id)
    assert any(getattr(e, "event", "") == "NodeSet" for e in executed.events)


def test_council_removes_and_adds_sites__every_node_follows_without_restart(
    cluster_factory: Callable[..., Cluster],
) -> None:
    deployer, council = account("deployer"), [account(f"council{i}") for i in range(3)]
    owner = bytes.fromhex(deployer.address[2:])
    cluster = cluster_factory(
        4,
        start=False,
        allowed=3,  # d is in no genesis list: only the council can let it in
        signers=3,  # a, b, c seal; a and b keep sealing once c is cut off
        extra_alloc={a.address: 10**24 for a in (deployer, *council)},
        genesis_options={
            "allowlist": [deployer.address],
            "permission_contract": "0x" + contract_address(owner, 1).hex(),
            "node_permission_contract": "0x" + contract_address(owner, 2).hex(),
        },
    )
    a, b, c, d = cluster.members
    cluster.bootnodes = [m.enode for m in (a, b, c)]
    for m in (a, b, c):
        cluster.start(m, wait=False)
    for m in (a, b, c):
        cluster.wait_up(m)
    wait_for(lambda: all(_peers(m) == 2 for m in (a, b, c)), 60, "genesis mesh of a, b, c")

    w3 = connect(a.rpc.url)
    plan = Plan(
        council=[m.address for m in council],
        threshold=2,
        nodes=[m.node_key.node_id for m in (a, b, c)],
    )
    client, _ = deploy_plan(w3, deployer, plan)
    clients = [client.as_account(m) for m in council]
    assert client.is_node_allowed(keccak(c.node_key.node_id))
    assert not client.is_node_allowed(keccak(d.node_key.node_id))

    # c's site is closed: a and b drop it at their next head and refuse its redials; c stays up, alone.
    _govern(clients, False, c)
    wait_for(lambda: _peers(a) == 1 and _peers(b) == 1 and _peers(c) == 0, 60, "c dropped by a and b")
    head = a.rpc.number()
    wait_for(lambda: a.rpc.number() >= head + 3, 60, "a and b seal on")
    assert _peers(c) == 0 and c.alive

    # d is added by the council though no genesis names it: it dials a (its bootnode), is accepted, catches up.
    _govern(clients, True, d)
    cluster.start(d)
    wait_for(lambda: _peers(d) >= 1, 60, "d peers with a site that allows it")
    same_head([a, b, d])

    # c is let back in: it reconnects by itself (no restart) and catches up with the blocks it missed.
    _govern(clients, True, c)
    wait_for(lambda: _peers(c) >= 1, 60, "c reconnected")
    same_head([a, b, c, d])


def test_node_rules__contract_not_deployed__genesis_list_decides(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """A node permission contract named in genesis but not deployed yet does not lock anyone out."""
    owner = bytes.fromhex(account("nobody").address[2:])
    options: dict[str, Any] = {"node_permission_contract": "0x" + contract_address(owner, 2).hex()}
    cluster = cluster_factory(3, genesis_options=options, allowed=2)
    a, b, c = cluster.members
    wait_for(lambda: _peers(a) == 1 and _peers(b) == 1, 60, "a and b peer (genesis list)")
    head = a.rpc.number()
    wait_for(lambda: a.rpc.number() >= head + 3, 60, "blocks")
    assert _peers(c) == 0  # not in the genesis list, no contract to let it in
