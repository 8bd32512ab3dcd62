"""State pruning: the node keeps the world state of its last ``state_history`` blocks and drops older states,
in the commit of the block that pushes them out of the window (docs/node.md, "State pruning").

Every block's commit counts the trie nodes it added to its parent's state (by place: ``state_diff.py``) and
journals them with those it removed. When a canonical block ``m`` leaves the window (it is ``state_history``
blocks below the head and final), the nodes its block removed from state ``m - 1`` are released, and so are
the nodes added by the other branches' blocks at height ``m`` (they can never become canonical: their fork is
below finality); a node whose count reaches zero is in no kept state and is deleted. A node's count is its
places in the oldest kept state plus its places added by every later kept block, whichever branch they are
on, so a reorg inside the window changes no count. Blocks, receipts, logs and code are never counted, so
never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ..state_diff import StateDiff
from ..storage import SqliteStore, StateRefs

META_STATE_KEPT_FROM = "state_kept_from"  # the oldest canonical block whose state is kept
DEFAULT_STATE_HISTORY = 128  # geth's default: the state of the last 128 blocks


def _hashes(blob: bytes) -> list[bytes]:
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def commit_refs(
    store: SqliteStore,
    diff: StateDiff,
    block: tuple[int, bytes],
    kept_from: int,
    target: int | None,
    canonical_hash: Callable[[int], bytes],
) -> tuple[StateRefs, int]:
    """What the commit of ``block`` (number, hash) writes for pruning, and the oldest kept block after it.

    ``target`` is the oldest block the window and finality let the node keep after this commit (None: keep
    every state, an archive: counts are still kept, so the node may prune later without a rebuild).
    ``canonical_hash`` reads the canonical chain as this commit leaves it.
    """
    added = [(h, diff.added[h], n) for h, n in diff.added_places.items()]
    if target is None:
        return StateRefs(added=added, pinned=sorted(diff.codes)), kept_from
    number, block_hash = block
    journal = [
        (
            number,
            block_hash,
            b"".join(diff.added_places.elements()),
            b"".join(diff.removed_places.elements()),
        )
    ]
    released: Counter[bytes] = Counter()
    forget: list[tuple[int, bytes]] = []
    while kept_from < target:
        kept_from += 1
        canonical = canonical_hash(kept_from)
        for row_hash, row_added, row_removed in store.journal(kept_from):
            released.update(_hashes(row_removed if row_hash == canonical else row_added))
            forget.append((kept_from, row_hash))
    refs = StateRefs(
        added=added,
        released=list(released.items()),
        pinned=sorted(diff.codes),
        journal=journal,
        forget=forget,
    )
    return refs, kept_from
