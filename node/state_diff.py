"""Which stored trie nodes a block adds to the world state and which it removes: what state pruning counts.

The store is content-addressed, so one node may sit at several places (two contracts with the same value in
the same slot share a leaf) and may leave the state in one block and come back in a later one. Pruning
therefore counts, per node, its places in the kept states (``storage.py``); this module finds the places a
block changed, by walking the parent's and the block's tries side by side and skipping every subtree both
share. A node's hash does not depend on where it sits, but its place does not move either: a node reached
by the same nibble path in both tries with the same hash heads the same subtree. So the walk visits nodes
by increasing path length and drops, at each length, the (path, reference) pairs present in both; what is
left of the parent's trie was removed, what is left of the block's was added. Its cost follows the nodes the
block rewrote, not the size of the state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .trie_nodes import BLANK_ROOT, decode, decode_hex_prefix, decoded

EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
_OLD, _NEW = 0, 1


@dataclass
class StateDiff:
    """The stored nodes one block added to and removed from the state (counted by place), and the code of
    the accounts it created or changed (code is stored by hash beside the nodes and never pruned)."""

    added: dict[bytes, bytes] = field(default_factory=dict)  # node hash -> its encoding
    added_places: Counter[bytes] = field(default_factory=Counter)  # node hash -> places it was added at
    removed_places: Counter[bytes] = field(default_factory=Counter)  # node hash -> places it left
    codes: set[bytes] = field(default_factory=set)


def state_diff(get: Callable[[bytes], bytes], old_root: bytes, new_root: bytes) -> StateDiff:
    """The difference between the world states at ``old_root`` and ``new_root`` (``BLANK_ROOT``: empty);
    ``get`` reads a stored node's encoding by hash."""
    diff = StateDiff()
    accounts = _trie_diff(get, old_root, new_root, diff, leaves=True)
    for path in accounts[_OLD].keys() | accounts[_NEW].keys():
        old = accounts[_OLD].get(path)
        new = accounts[_NEW].get(path)
        old_storage = decode(old)[2] if old is not None else BLANK_ROOT
        if new is None:
            new_storage = BLANK_ROOT
        else:
            account = decode(new)
            new_storage = account[2]
            if account[3] != EMPTY_CODE_HASH:
                diff.codes.add(account[3])
        if old_storage != new_storage:
            _trie_diff(get, old_storage, new_storage, diff)
    return diff


def _trie_diff(
    get: Callable[[bytes], bytes],
    old_root: bytes,
    new_root: bytes,
    diff: StateDiff,
    leaves: bool = False,
) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    """Record in ``diff`` the nodes of one trie that changed; with ``leaves``, return the leaves (path ->
    value) on each side of the change (for the account trie: the accounts whose storage may have changed;
    a storage trie's leaves are not needed, and spelling out their paths was a third of the walk)."""
    found: tuple[dict[bytes, bytes], dict[bytes, bytes]] = ({}, {})
    if old_root == new_root:
        return found
    # levels[path length] = (old side, new side), each {nibble path: reference}
    levels: dict[int, tuple[dict[bytes, Any], dict[bytes, Any]]] = {}
    if old_root != BLANK_ROOT:
        levels.setdefault(0, ({}, {}))[_OLD][b""] = old_root
    if new_root != BLANK_ROOT:
        levels.setdefault(0, ({}, {}))[_NEW][b""] = new_root
    while levels:
        length = min(levels)
        sides = levels.pop(length)
        old_side, new_side = sides
        for path in [p for p in old_side if p in new_side]:
            if old_side[path] == new_side[path]:  # the same subtree in both: nothing below it changed
                del old_side[path], new_side[path]
        for side, refs in enumerate(sides):
            for path, ref in refs.items():
                if isinstance(ref, bytes):  # a stored node (a hash); embedded nodes live in their parent
                    if side == _OLD:
                        diff.removed_places[ref] += 1
                    else:
                        diff.added[ref] = get(ref)
                        diff.added_places[ref] += 1
                    node = decoded(ref, get)  # mostly decoded already, by the block's trie updates
                else:
                    node = ref
                if len(node) == 17:
                    for nibble in range(16):
                        child = node[nibble]
                        if child != b"":
                            child_path = path + bytes((nibble,))
                            levels.setdefault(len(child_path), ({}, {}))[side][child_path] = child
                    if node[16] != b"" and leaves:
                        found[side][path] = node[16]
                    continue
                if node[0][0] & 0x20:  # a leaf (hex-prefix flag): nothing stored below it
                    if leaves:
                        found[side][path + decode_hex_prefix(node[0])[0]] = node[1]
                    continue
                child_path = path + decode_hex_prefix(node[0])[0]
                levels.setdefault(len(child_path), ({}, {}))[side][child_path] = node[1]
    return found
