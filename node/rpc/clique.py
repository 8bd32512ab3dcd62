"""JSON shapes of the ``clique_*`` methods, as geth returns them (snapshot, status, signer)."""

from __future__ import annotations

from typing import Any

from ..chain import Chain
from ..records import HeaderRecord
from . import format as fmt


def snapshot_json(chain: Chain, block: HeaderRecord) -> dict[str, Any]:
    """geth's ``clique_getSnapshot``: signers, recent sealers, pending votes and tallies after ``block``."""
    snap = chain.clique_snapshot(block)
    return {
        "number": snap.number,
        "hash": fmt.d(snap.hash),
        "signers": {fmt.d(s): {} for s in snap.signers},
        "recents": {str(number): fmt.d(sealer) for number, sealer in snap.recents},
        "votes": [
            {
                "signer": fmt.d(v.signer),
                "block": v.block_number,
                "address": fmt.d(v.subject),
                "authorize": v.authorize,
            }
            for v in snap.votes
        ],
        "tally": {fmt.d(a): {"authorize": authorize, "votes": votes} for a, authorize, votes in snap.tally},
    }


def signer_json(chain: Chain, block: HeaderRecord) -> str | None:
    sealer = chain.sealer(block)
    return None if sealer is None else fmt.d(sealer)


def status_json(chain: Chain, blocks: int) -> dict[str, Any]:
    """geth's ``clique_status`` (in-turn share and sealer activity over the last ``blocks``) plus finality."""
    activity_record = chain.clique_activity(blocks)
    activity = {fmt.d(s): 0 for s in activity_record.signers}
    in_turn = 0
    for sealer, turn in activity_record.sealers:
        activity[fmt.d(sealer)] = activity.get(fmt.d(sealer), 0) + 1
        in_turn += turn
    counted = len(activity_record.sealers)
    return {
        "inturnPercent": 100.0 * in_turn / counted if counted else 0.0,
        "sealerActivity": activity,
        "numBlocks": counted,
        "head": activity_record.head,
        "finalized": activity_record.finalized,
        "recentlySigned": [fmt.d(s) for s in activity_record.recently_signed],
    }
