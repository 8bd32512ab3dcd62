"""State pruning: the node keeps the world state of its last ``state_history`` blocks and drops older states,
in the commit of the block that pushes them out of the window (docs/node.md, "State pruning").

Every block's commit counts, by place, the trie nodes its block added to its parent's state
(``state_diff.py``) and notes the block in the journal. When a canonical block ``m`` leaves the window (it is
``state_history`` blocks below the head and final), the nodes its block removed from state ``m - 1`` are
released, and so are the nodes added by the other branches' blocks at height ``m`` and by their descendants
(their fork is below finality: they can never become canonical). What a block added or removed is computed
again at that moment rather than journalled (both its states are still complete then): a journal of node
hashes cost more disk than the states it let the node drop. A node whose count reaches zero is in no kept
state and is deleted. A node's count is its places in the oldest kept state plus its places added by every
later kept block, whichever branch it is on, so a reorg inside the window changes no count. Blocks,
receipts, logs and code are never counted, so never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from ..state_diff import StateDiff
from ..storage import SqliteStore, StateRefs

META_STATE_KEPT_FROM = "state_kept_from"  # the oldest canonical block whose state is kept
DEFAULT_STATE_HISTORY = 128  # geth's default: the state of the last 128 blocks


def commit_refs(
    store: SqliteStore,
    diff: StateDiff,
    block: tuple[int, bytes],
    kept_from: int,
    target: int | None,
    canonical_hash: Callable[[int], bytes],
    diff_of: Callable[[bytes], StateDiff],
    parent_of: Callable[[bytes], bytes],
) -> tuple[StateRefs, int]:
    """What the commit of ``block`` (number, hash), whose state ``diff`` changed, writes for pruning, and the
    oldest kept block after it.

    ``target`` is the oldest block the window and finality let the node keep after this commit (None: keep
    every state, an archive; counts are still kept, so the node may prune later without a rebuild).
    ``canonical_hash`` reads the canonical chain as this commit leaves it; ``diff_of`` a committed block's
    state diff to its parent, ``parent_of`` its parent's hash.
    """
    written = added_refs(diff)
    if target is None:
        return written, kept_from
    released: Counter[bytes] = Counter()
    forget: list[tuple[int, bytes]] = []
    while kept_from < target:
        kept_from += 1
        canonical = canonical_hash(kept_from)
        done = {h for _, h in forget}  # a side branch's later blocks went with its first
        for block_hash in store.journal(kept_from):
            if block_hash in done:
                continue
            if block_hash == canonical:
                released.update(diff_of(block_hash).removed_places)
                forget.append((kept_from, block_hash))
                continue
            for number, gone in _branch(store, kept_from, block_hash, parent_of):
                released.update(diff_of(gone).added_places)
                forget.append((number, gone))
    refs = replace(written, released=list(released.items()), journal=[block], forget=forget)
    return refs, kept_from


def added_refs(diff: StateDiff) -> StateRefs:
    """What a commit writes for the state ``diff`` added when no state leaves the window (the genesis, an
    archive): the added nodes with their places, and the code it pins."""
    return StateRefs(
        added=[(h, diff.added[h], n) for h, n in diff.added_places.items()], pinned=sorted(diff.codes)
    )


def _branch(
    store: SqliteStore, number: int, block_hash: bytes, parent_of: Callable[[bytes], bytes]
) -> list[tuple[int, bytes]]:
    """A side block and every kept block descending from it: discarded together, while their states are
    all still complete (a child's diff needs its parent's state)."""
    found = [(number, block_hash)]
    frontier = {block_hash}
    while frontier:
        number += 1
        frontier = {h for h in store.journal(number) if parent_of(h) in frontier}
        found.extend((number, h) for h in frontier)
    return found
