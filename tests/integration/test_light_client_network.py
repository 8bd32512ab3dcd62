"""The oracle's light client follows a real 3-validator network (one process per node, 1 s blocks, epoch 8)
through a signer voted out and back in: its signer set, checkpoints and finality match the nodes'; the
auditor's ``verify_chain`` (same Clique rules) accepts the voted chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pamchain.sdk.chain.chain_check import ChainRpc, verify_chain
from pamchain.sdk.oracle.light_client import Anchor, LightClient, SnapshotStore

from support.cluster import Cluster, make_cluster, wait_for

pytestmark = pytest.mark.integration
EPOCH = 8


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = make_cluster(tmp_path / "net", 3, epoch=EPOCH)
    for member in made.members:
        made.start(member, wait=False)
    try:
        for member in made.members:
            made.wait_up(member)
        yield made
    finally:
        made.stop_all()


def test_light_client__signer_voted_out_and_in__follows_the_signer_set(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b, c = cluster.members
    light = LightClient(
        ChainRpc(a.rpc.url),
        SnapshotStore(tmp_path / "journal.sqlite3"),
        Anchor.parse(0, a.rpc.block(0)["hash"]),
        epoch=EPOCH,
    )
    everyone = {bytes.fromhex(m.signer.address[2:].lower()) for m in cluster.members}
    c_address = bytes.fromhex(c.signer.address[2:].lower())

    def signers_are(expected: set[bytes]) -> Callable[[], bool]:
        def check() -> bool:
            light.sync()
            return set(light.signers) == expected

        return check

    wait_for(lambda: light.sync() > EPOCH, 60, "light client past the first checkpoint")
    assert signers_are(everyone)()
    for voter in (a, b):
        voter.rpc.call("clique_propose", c.signer.address, False)
    wait_for(signers_are(everyone - {c_address}), 60, "C voted out, seen by the light client")
    for voter in (a, b):
        voter.rpc.call("clique_discard", c.signer.address)
    out_at = light.final
    checkpoint = (out_at // EPOCH + 1) * EPOCH
    wait_for(lambda: light.sync() >= checkpoint, 60, "a checkpoint listing two signers, verified")
    for voter in (a, b):
        voter.rpc.call("clique_propose", c.signer.address, True)
    wait_for(signers_are(everyone), 60, "C voted back in, seen by the light client")

    # What the light client holds final is the nodes' chain, and never ahead of what they call final.
    final = light.final
    assert light.headers(final, final)[0].hex_hash == b.rpc.block(final)["hash"]
    assert final <= a.rpc.number("finalized")
    assert light.refused is None

    # The auditor's whole-chain check applies the same rules (votes included) and finds the chain intact.
    verdict = verify_chain(ChainRpc(c.rpc.url), last=final, epoch=EPOCH)
    assert verdict.ok, verdict.bad
    assert {bytes.fromhex(s[2:].lower()) for s in verdict.signers} == everyone
