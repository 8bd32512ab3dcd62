"""The one-pass ordered trie (transactions/receipts/withdrawals roots) against py-evm's insert-by-insert trie."""

from __future__ import annotations

import random

import pytest
import rlp
from eth.db.trie import _make_trie_root_and_nodes
from pamchain.node.ordered_trie import ordered_trie_item, ordered_trie_items, ordered_trie_root
from trie import HexaryTrie


@pytest.mark.parametrize("count", [0, 1, 2, 15, 16, 17, 127, 128, 129, 255, 256, 257, 700])
@pytest.mark.parametrize("max_size", [1, 8, 31, 32, 120])
def test_root_and_nodes_match_py_evm(count: int, max_size: int) -> None:
    rng = random.Random(count * 1000 + max_size)
    items = tuple(rng.randbytes(rng.randint(1, max_size)) for _ in range(count))
    expected_root, expected_nodes = _make_trie_root_and_nodes.__wrapped__(items)
    root, nodes = ordered_trie_root(items)
    assert root == expected_root
    assert nodes == dict(expected_nodes)


@pytest.mark.parametrize("count", [0, 1, 2, 16, 17, 128, 129, 700])
@pytest.mark.parametrize("max_size", [1, 31, 120])
def test_items_read_in_one_walk_are_py_evm_trie_items(count: int, max_size: int) -> None:
    """What one walk over a stored trie returns is, index by index, what py-evm's trie lookups return, and so
    is each item read alone; an index past the end is absent."""
    rng = random.Random(count * 7 + max_size)
    items = [rng.randbytes(rng.randint(1, max_size)) for _ in range(count)]
    root, nodes = _make_trie_root_and_nodes.__wrapped__(tuple(items))
    stored: dict[bytes, bytes] = {bytes(k): v for k, v in dict(nodes).items()}
    trie = HexaryTrie(stored, root_hash=root)
    assert ordered_trie_items(stored, root) == [trie[rlp.encode(i)] for i in range(count)] == items
    assert [ordered_trie_item(stored, root, i) for i in range(count)] == items
    with pytest.raises(KeyError):
        ordered_trie_item(stored, root, count)
