"""Many key changes applied to a hexary Merkle-Patricia trie at once, each touched node decoded and encoded once;
and the key lookup that goes with it.

py-evm writes a block's storage changes into an account's storage trie one slot at a time; every write
decodes, re-encodes and re-hashes the whole path from the leaf to the root, so the nodes near the root are
rebuilt once per slot (a third of the node's block-building time with 600 grants per block). Here the
changes are sorted and applied in one walk down the trie: a node is visited once however many keys below it
change. Root and nodes are the same as py-evm's (``tests/node/test_bulk_trie.py`` compares them, including
deletions that collapse branches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eth_typing import Hash32

from .ordered_trie import build
from .trie_nodes import BLANK_ROOT, decode_hex_prefix, hex_prefix, nibbles, reference, root

BLANK: Any = b""  # the empty node, as a child reference and as a result


def update_trie(
    get: Callable[[bytes], Any], old_root: Hash32, changes: Mapping[bytes, bytes | None]
) -> tuple[Hash32, dict[Hash32, bytes]]:
    """New root and new nodes of the trie at ``old_root`` with ``changes`` applied (None or b"": delete the key).

    ``get`` reads an existing node by its hash, decoded (as ``lookup``'s; it is never modified). Nodes of the old trie that the update no longer references
    are left alone (as py-evm does: the store is content-addressed and never pruned here).
    """
    nodes: dict[Hash32, bytes] = {}
    if not changes:
        return old_root, nodes
    items = sorted((nibbles(k), v or None) for k, v in changes.items())
    updater = _Updater(get, nodes)
    top = BLANK if old_root == BLANK_ROOT else get(old_root)
    new = updater.apply(top, 0, items)
    if new == BLANK:
        return BLANK_ROOT, nodes
    return root(new, nodes), nodes


def lookup(get: Callable[[bytes], Any], root_hash: Hash32, key: bytes) -> bytes:
    """The value at ``key`` in the trie at ``root_hash`` (b"" if absent); ``get`` returns a *decoded* node by
    its hash (so that the caller may cache decoded nodes) and raises KeyError for a missing one."""
    if root_hash == BLANK_ROOT:
        return b""
    path = nibbles(key)
    depth = 0
    node = get(root_hash)
    while True:
        if node == BLANK:
            return b""
        if len(node) == 17:
            if depth == len(path):
                return bytes(node[16])
            ref = node[path[depth]]
            depth += 1
        else:
            rest, leaf = decode_hex_prefix(node[0])
            if leaf:
                return bytes(node[1]) if path[depth:] == rest else b""
            if path[depth : depth + len(rest)] != rest:
                return b""
            depth += len(rest)
            ref = node[1]
        node = ref if isinstance(ref, list) or ref == BLANK else get(ref)


class _Updater:
    """One bulk update: ``apply`` returns the new form of a node (an RLP structure whose children are
    references: a 32-byte hash, an embedded node or BLANK) and records new hashed nodes in ``nodes``."""

    def __init__(self, get: Callable[[bytes], Any], nodes: dict[Hash32, bytes]) -> None:
        self._get = get
        self._nodes = nodes

    def _resolve(self, ref: Any) -> Any:
        if isinstance(ref, list) or ref == BLANK:
            return ref  # embedded (or not yet referenced) node, or nothing
        return self._get(ref)

    def _fresh(self, items: Sequence[tuple[bytes, bytes | None]], depth: int) -> Any:
        kept = [(k, v) for k, v in items if v is not None]
        return build(kept, depth, self._nodes) if kept else BLANK

    def apply(self, node: Any, depth: int, items: Sequence[tuple[bytes, bytes | None]]) -> Any:
        """``node`` (at ``depth`` nibbles) with ``items`` (sorted nibble keys under it) applied."""
        if not items:
            return node
        if node == BLANK:
            return self._fresh(items, depth)
        if len(node) == 17:
            return self._branch(list(node), depth, items)
        path, leaf = decode_hex_prefix(node[0])
        if leaf:
            # A single key lives here: merge it with the changes and build the (small) subtree afresh.
            merged = {items[0][0][:depth] + path: node[1]}
            for key, value in items:
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self._fresh(sorted(merged.items()), depth)
        end = depth + len(path)
        if all(key[depth:end] == path for key, _ in items):
            return self._prefixed(path, self.apply(self._resolve(node[1]), end, items))
        # Some keys leave the extension's path: continue as the equivalent branch, which collapses back into an
        # extension if those keys were only deletions of absent keys.
        branch: list[Any] = [BLANK] * 17
        branch[path[0]] = node[1] if len(path) == 1 else [hex_prefix(path[1:], leaf=False), node[1]]
        return self._branch(branch, depth, items)

    def _branch(self, branch: list[Any], depth: int, items: Sequence[tuple[bytes, bytes | None]]) -> Any:
        start = 0
        if len(items[0][0]) == depth:  # a key ending at this branch (sorted first) is its value
            branch[16] = items[0][1] or BLANK
            start = 1
        while start < len(items):
            nibble = items[start][0][depth]
            end = start
            while end < len(items) and items[end][0][depth] == nibble:
                end += 1
            branch[nibble] = self.apply(self._resolve(branch[nibble]), depth + 1, items[start:end])
            start = end
        children = [i for i in range(16) if branch[i] != BLANK]
        if not children:
            return BLANK if branch[16] == BLANK else [hex_prefix(b"", leaf=True), branch[16]]
        if len(children) == 1 and branch[16] == BLANK:
            only = children[0]
            return self._prefixed(bytes([only]), self._resolve(branch[only]))
        return [
            reference(child, self._nodes) if isinstance(child, list) else child for child in branch[:16]
        ] + [branch[16]]

    def _prefixed(self, path: bytes, child: Any) -> Any:
        """``child`` under ``path``: a leaf or extension absorbs the path, a branch gets an extension."""
        if child == BLANK:
            return BLANK
        if len(child) == 17:
            return [hex_prefix(path, leaf=False), reference(child, self._nodes)]
        rest, leaf = decode_hex_prefix(child[0])
        return [hex_prefix(path + rest, leaf=leaf), child[1]]
