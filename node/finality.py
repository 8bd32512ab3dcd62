"""The finality rule for a Clique chain: which block can no longer be reverted, served as ``finalized``/``safe``.

Rule. Let N be the number of authorized signers at the head. A block B is *final* once blocks B..head (B and
the blocks built on it) were sealed by at least ``floor(N/2) + 1`` distinct signers. With one signer, every
sealed block is final.

Why this holds: EIP-225 lets a signer seal at most one block in any ``floor(N/2) + 1`` consecutive blocks, so a
branch sealed by fewer than a majority of the signers can never grow longer than ``floor(N/2)`` blocks, and
an honest signer only moves to a branch that EIP-3436 ranks higher. A majority that has built on B would
have to abandon it for a competing branch that a minority cannot make heavier. On top of the argument, the
node *enforces* it: a block that does not descend from the node's finalized block is refused on import
(``Chain.import_block``), so no reorganisation can ever revert a final block on this node, whatever peers
send. The walk is short: with the recency limit, ``floor(N/2) + 1`` consecutive blocks already have that
many distinct signers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from eth.abc import BlockHeaderAPI
from eth_keys.exceptions import BadSignature

from .consensus import cached_signer, signer_limit


def majority_final(
    head: BlockHeaderAPI,
    parent_of: Callable[[BlockHeaderAPI], BlockHeaderAPI],
    signer_count: int,
    floor: BlockHeaderAPI,
) -> BlockHeaderAPI:
    """The highest block on ``head``'s branch sealed-or-built-on by a majority of distinct signers.

    ``floor`` is the previously finalized block (an ancestor of ``head``): the walk stops there and never
    returns anything older, so finality only moves forward.
    """
    needed = signer_limit(signer_count)
    seen: set[bytes] = set()
    current = head
    while current.block_number > floor.block_number:
        # An unsealed header (foreign chains imported without seal checks) counts for nobody.
        with contextlib.suppress(ValueError, BadSignature):
            seen.add(cached_signer(current))
        if len(seen) >= needed:
            return current
        current = parent_of(current)
    return floor
