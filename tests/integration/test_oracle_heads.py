"""The latency path on a node process and a Samba DC: the oracle ticks on its node's newHeads subscription
(no poll interval elapses), comes back to it when the WebSocket drops, polls without one; a period-0 chain
seals back-to-back unlocks without holding them to one block a second, and grants stay timed by the clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from pamchain.node.genesis import deployment_genesis
from pamchain.sdk.chain.client import connect
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.directory import AuthenticationFailed
from pamchain.sdk.directory.ldap import LdapDirectory
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.oracle.heads import ws_url_for

from support.chains import ChainEnv
from support.chains import test_accounts as actors
from support.node_process import NodeProcess, init_node
from support.rpc import free_port
from support.world import ADMINS, standard_plan

from .oracle_world import Suite, World, make_oracle, running, wait_for

pytestmark = pytest.mark.integration
HUGE = 10**6  # a poll interval no test outlives: every tick after the first comes from a head


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A single validator with Clique period 0 (seal on demand, blocks may share a second)."""
    root = tmp_path_factory.mktemp("heads-node")
    accounts = actors()
    signer = Account.from_key(keccak(text="pamchain-test-signer"))
    genesis = deployment_genesis(
        [signer.address], 1337, {a.address: 10**24 for a in accounts.values()}, accounts["deployer"].address,
        period=0,
    )  # fmt: skip
    handle = NodeProcess(init_node(root, genesis, signer.key), log=root / "node.log")
    handle.start()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def suite(node: NodeProcess) -> Suite:
    accounts = actors()
    env = ChainEnv("pamchain", node.url, connect(node.url), accounts, Finality())
    client, deployment = deploy_plan(env.w3, accounts["deployer"], standard_plan(accounts, grant_cap=3600))
    return Suite(env, client, deployment.block, deployment.block_hash)


def receipted(suite: Suite, rid: int) -> Callable[[], bool]:
    return lambda: suite.client.receipt(rid, Action.UNLOCK) is not None


def lock(directory: LdapDirectory, world: World, name: str = "alice") -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(world.ref(name), "not-the-password")
    assert directory.is_locked(world.ref(name))


def test_oracle__poll_interval_never_elapses__acts_on_each_new_head(
    node: NodeProcess, suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, heads_url=ws_url_for(node.url))
    with running(daemon, poll_interval=HUGE):
        assert daemon.heads is not None
        wait_for(daemon.heads.connected.is_set, 20, "newHeads subscription")
        wait_for(lambda: daemon.status()["seconds_since_tick"] is not None, 20, "first tick")
        for _ in range(2):  # twice: not just the tick the (re)connection starts
            lock(ldap_directory, world)
            rid = suite.as_("alice").request_unlock()
            wait_for(receipted(suite, rid), 30, "unlock receipt")
            assert suite.client.receipt(rid, Action.UNLOCK).outcome is Outcome.APPLIED  # type: ignore[union-attr]
            assert not ldap_directory.is_locked(world.ref("alice"))
        assert daemon.heads.heads >= 2
        assert daemon.status()["head_subscription"] is True


def test_oracle__node_websocket_drops__resubscribes_and_acts(
    node: NodeProcess, suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, heads_url=ws_url_for(node.url))
    with running(daemon, poll_interval=HUGE):
        assert daemon.heads is not None
        wait_for(daemon.heads.connected.is_set, 20, "newHeads subscription")
        node.stop(grace=0)  # SIGKILL at once: the socket drops without a close frame
        wait_for(lambda: not daemon.heads.connected.is_set(), 20, "subscription lost")  # type: ignore[union-attr]
        node.start()  # same data dir, same port
        wait_for(lambda: daemon.heads.connections >= 2, 30, "subscription back")  # type: ignore[union-attr]
        lock(ldap_directory, world)
        rid = suite.as_("alice").request_unlock()
        wait_for(receipted(suite, rid), 30, "unlock receipt")
        assert not ldap_directory.is_locked(world.ref("alice"))


def test_oracle__endpoint_without_websocket__polls(
    suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    nothing = f"ws://127.0.0.1:{free_port()}"  # nobody listens: every subscription attempt fails
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, heads_url=nothing)
    with running(daemon, poll_interval=0.1):
        lock(ldap_directory, world)
        rid = suite.as_("alice").request_unlock()
        wait_for(receipted(suite, rid), 30, "unlock receipt")
        assert daemon.status()["head_subscription"] is False


def test_back_to_back_unlocks__each_well_under_a_second__grant_not_extended(
    node: NodeProcess, suite: Suite, world: World, ldap_directory: LdapDirectory, tmp_path: Path
) -> None:
    """Each unlock is two blocks (request, receipt). Chains whose timestamps strictly increase made a stream
    of them one block per second (~1.8 s each); period 0 seals them at once and keeps the clock."""
    daemon = make_oracle(suite, world, ldap_directory, tmp_path, heads_url=ws_url_for(node.url))
    alice = suite.as_("alice")
    w3 = suite.env.w3
    spans = []
    with running(daemon, poll_interval=HUGE):
        lock(ldap_directory, world)
        for _ in range(6):
            t0 = time.monotonic()
            rid = alice.request_unlock()
            wait_for(receipted(suite, rid), 30, "unlock receipt")
            spans.append(time.monotonic() - t0)
            assert w3.eth.get_block("latest")["timestamp"] <= time.time()  # never ahead of the clock
        # Right after the burst, a grant: its window starts at its block's time, which is not in the future.
        approved_by = time.time()
        rid = suite.as_("bob").request_elevation(ADMINS, 60, "incident", break_glass=True)
        suite.as_("carol").approve(rid)
        approved_at = time.time()
    assert statistics.median(spans) < 0.5, spans
    grant = suite.client.request(rid)
    assert grant.expiry - grant.start == 60
    assert int(approved_by) <= grant.start <= approved_at  # starts within the approval, so ends on time
