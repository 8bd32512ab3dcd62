"""Roots of ordered tries (transactions, receipts, withdrawals of a block) built in one pass, with their nodes.

py-evm builds these tries by inserting ``rlp(index) -> item`` one key at a time into a ``HexaryTrie``, which
re-encodes and re-hashes the path to the root after every insert; with hundreds of transactions per block
that is a seventh of the node's block-building time. All keys are known up front, so the trie can be built
bottom-up, each node encoded and hashed exactly once. Root and node set are identical to py-evm's
(``tests/node/test_ordered_trie.py`` compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_typing import Hash32

from .trie_nodes import hex_prefix, nibbles, pack_nibbles, reference, root

_nibbles = nibbles  # the walks below name their own local ``nibbles``

_BIG_INT = rlp.sedes.big_endian_int


def _common_prefix(a: bytes, b: bytes, start: int) -> int:
    n = start
    limit = min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n - start


def build(items: Sequence[tuple[bytes, bytes]], depth: int, nodes: dict[Hash32, bytes]) -> Any:
    """The node for ``items`` (sorted by nibble key, all sharing ``key[:depth]``), as an RLP structure."""
    if len(items) == 1:
        key, value = items[0]
        return [hex_prefix(key[depth:], leaf=True), value]
    shared = _common_prefix(items[0][0], items[-1][0], depth)  # sorted: first and last bound the rest
    if shared:
        child = build(items, depth + shared, nodes)
        return [hex_prefix(items[0][0][depth : depth + shared], leaf=False), reference(child, nodes)]
    branch: list[Any] = [b""] * 17
    start = 0
    if len(items[0][0]) == depth:  # a key ending here (sorted first) is the branch's own value
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][depth]
        end = start
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        branch[nibble] = reference(build(items[start:end], depth + 1, nodes), nodes)
        start = end
    return branch


def ordered_trie_root(encoded_items: Sequence[bytes]) -> tuple[Hash32, dict[Hash32, bytes]]:
    """Root hash and node set of the trie ``rlp(index) -> encoded_items[index]``."""
    if not encoded_items:
        return BLANK_ROOT_HASH, {}
    keyed = sorted((nibbles(rlp.encode(i, sedes=_BIG_INT)), item) for i, item in enumerate(encoded_items))
    nodes: dict[Hash32, bytes] = {}
    return root(build(keyed, 0, nodes), nodes), nodes


class NodeSource(Protocol):
    """Where trie nodes are read: their hash -> their RLP (``KeyError`` if absent)."""

    def __getitem__(self, key: bytes, /) -> bytes: ...


def ordered_trie_items(db: NodeSource, root: bytes) -> list[bytes]:
    """Every item of an ordered trie, by index, reading and decoding each node once.

    py-evm reads a block's transactions or receipts one key at a time, from the root each time: with hundreds
    of items every branch node near the root is fetched and RLP-decoded hundreds of times. One walk over the
    trie decodes each node once (the keys come back in nibble order, so the items are sorted by index after).
    """
    if root == BLANK_ROOT_HASH:
        return []
    found: list[tuple[int, bytes]] = []
    stack: list[tuple[Any, bytes]] = [(root, b"")]
    while stack:
        ref, path = stack.pop()
        node = rlp.decode(db[ref]) if isinstance(ref, bytes) else ref  # a list: a node embedded in its parent
        if len(node) == 17:
            for nibble in range(16):
                if node[nibble] != b"":
                    stack.append((node[nibble], path + bytes([nibble])))
            if node[16] != b"":
                found.append((_index(path), node[16]))
            continue
        flags, rest = node[0][0] >> 4, node[0][1:]
        nibbles = path + (bytes([node[0][0] & 0x0F]) if flags & 1 else b"") + _nibbles(rest)
        if flags & 2:
            found.append((_index(nibbles), node[1]))
        else:
            stack.append((node[1], nibbles))
    found.sort()
    return [item for _, item in found]


def ordered_trie_item(db: NodeSource, root: bytes, index: int) -> bytes:
    """The item at ``index`` of an ordered trie (``KeyError`` if there is none), read down from the root: one
    log's receipt or transaction without ``HexaryTrie``'s per-node overhead."""
    path = _nibbles(rlp.encode(index))
    ref: Any = root
    depth = 0
    while True:
        node = rlp.decode(db[ref]) if isinstance(ref, bytes) else ref
        if len(node) == 17:
            if depth == len(path):
                if node[16] == b"":
                    raise KeyError(index)
                return bytes(node[16])
            ref = node[path[depth]]
            depth += 1
            if ref == b"":
                raise KeyError(index)
            continue
        flags, rest = node[0][0] >> 4, node[0][1:]
        nibbles = (bytes([node[0][0] & 0x0F]) if flags & 1 else b"") + _nibbles(rest)
        if path[depth : depth + len(nibbles)] != nibbles:
            raise KeyError(index)
        depth += len(nibbles)
        if flags & 2:
            if depth != len(path):
                raise KeyError(index)
            return bytes(node[1])
        ref = node[1]


def _index(nibbles: bytes) -> int:
    key = pack_nibbles(nibbles)
    return int(_BIG_INT.deserialize(rlp.decode(key)))
