"""A validator's datadir destroyed and restored from an online backup: it resyncs from its peers and seals again.
Figures (restore time, time to catch up) go to $PAMCHAIN_FAULT_REPORT when set (docs/operations.md)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from pamchain.scripts.backup_commands import NODE_FILES
from pamchain.sdk.backup import Part, create, restore

from support.cluster import Cluster, wait_for


def _final_receipt(member, tx: str) -> dict | None:
    receipt = member.rpc.call("eth_getTransactionReceipt", tx)
    if receipt is None or int(receipt["blockNumber"], 16) > member.rpc.number("finalized"):
        return None
    return receipt


def test_validator_datadir_lost__restored_from_backup__resyncs_and_seals(
    cluster_factory: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = cluster_factory(3)
    a, b, c = cluster.members
    wait_for(lambda: all(m.rpc.call("net_peerCount") == "0x2" for m in (a, b, c)), 60, "full mesh")
    tx0 = cluster.send_transfer(a, 0)
    wait_for(lambda: _final_receipt(c, tx0), 60, "tx0 final on c")

    archive = tmp_path / "c.tar.gz"
    create([Part("node", c.datadir, (*NODE_FILES, "signer.json"))], archive)  # online, while it seals
    tx1 = cluster.send_transfer(a, 1)  # after the backup: c must learn it from its peers
    wait_for(lambda: _final_receipt(b, tx1), 60, "tx1 final")

    cluster.kill(c)
    shutil.rmtree(c.datadir)  # the disk is gone
    started = time.monotonic()
    restore(archive, {"node": c.datadir})
    restored = time.monotonic()
    cluster.start(c)
    receipt = wait_for(lambda: _final_receipt(c, tx1), 120, "restored validator resynced tx1")
    caught_up = time.monotonic()
    assert receipt["blockHash"] == b.rpc.call("eth_getTransactionReceipt", tx1)["blockHash"]
    assert c.rpc.call("eth_getTransactionReceipt", tx0) is not None
    signer_c = c.signer.address.lower()

    def sealed_by_c() -> bool:
        head = a.rpc.number()
        return any(
            a.rpc.call("clique_getSigner", hex(n)) == signer_c for n in range(max(1, head - 5), head + 1)
        )

    wait_for(sealed_by_c, 60, "the restored validator sealing again")
    target = os.environ.get("PAMCHAIN_FAULT_REPORT")
    if target:
        with Path(target).open("a") as out:
            figures = {
                "fault": "validator datadir destroyed, restored from backup",
                "restore_s": round(restored - started, 3),
                "restart_to_caught_up_s": round(caught_up - restored, 3),
                "archive_bytes": archive.stat().st_size,
            }
            out.write(json.dumps(figures) + "\n")
