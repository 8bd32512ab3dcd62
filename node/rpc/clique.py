"""JSON shapes of the ``clique_*`` methods, as geth returns them (snapshot, status, signer)."""

from __future__ import annotations

from typing import Any

from ..chain import Chain
from ..consensus import cached_signer, recent_signers, signer_limit
from . import format as fmt


def snapshot_json(chain: Chain, header: Any) -> dict[str, Any]:
    """geth's ``clique_getSnapshot``: signers, recent sealers, pending votes and tallies after ``header``."""
    snap = chain.consensus_context.snapshot_manager.get_or_create_snapshot(header.block_number, header.hash)
    signers = sorted(snap.signers)
    recents: dict[str, str] = {}
    current = header
    for _ in range(signer_limit(len(signers)) - 1):
        if current.block_number == 0:
            break
        recents[str(current.block_number)] = fmt.d(cached_signer(current))
        current = chain.header_by_hash(current.parent_hash)
    return {
        "number": int(header.block_number),
        "hash": fmt.d(header.hash),
        "signers": {fmt.d(s): {} for s in signers},
        "recents": recents,
        "votes": [
            {
                "signer": fmt.d(v.signer),
                "block": v.block_number,
                "address": fmt.d(v.subject),
                "authorize": v.action.value == b"\xff" * 8,
            }
            for v in sorted(snap.votes, key=lambda v: v.block_number)
        ],
        "tally": {
            fmt.d(a): {"authorize": t.action.value == b"\xff" * 8, "votes": t.votes}
            for a, t in snap.tallies.items()
        },
    }


def signer_json(header: Any) -> str | None:
    if header.block_number == 0:
        return None
    return fmt.d(cached_signer(header))


def status_json(chain: Chain, blocks: int) -> dict[str, Any]:
    """geth's ``clique_status`` (in-turn share and sealer activity over the last ``blocks``) plus finality."""
    head = chain.head
    signers = chain.signers(head)
    activity = {fmt.d(s): 0 for s in signers}
    in_turn = counted = 0
    current = head
    while current.block_number > 0 and counted < blocks:
        sealer = fmt.d(cached_signer(current))
        activity[sealer] = activity.get(sealer, 0) + 1
        in_turn += current.difficulty == 2
        counted += 1
        current = chain.header_by_hash(current.parent_hash)
    return {
        "inturnPercent": 100.0 * in_turn / counted if counted else 0.0,
        "sealerActivity": activity,
        "numBlocks": counted,
        "head": int(head.block_number),
        "finalized": int(chain.finalized.block_number),
        "recentlySigned": [
            fmt.d(s) for s in sorted(recent_signers(chain.header_by_hash, head.hash, len(signers)))
        ],
    }
