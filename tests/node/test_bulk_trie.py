"""Bulk trie updates, the trie-node codec and the account encoding against py-evm's trie (``HexaryTrie``) and
pyrlp."""

from __future__ import annotations

import random

import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH
from eth.rlp.accounts import Account
from eth_typing import Hash32
from hypothesis import given
from hypothesis import strategies as st
from pamchain.node import trie_nodes
from pamchain.node.bulk_trie import lookup, update_trie
from pamchain.node.chain.bulk_storage import encode_account
from trie import HexaryTrie
from trie.utils.nibbles import add_nibbles_terminator, encode_nibbles


def _value(rng: random.Random) -> bytes:
    return rlp.encode(rng.randrange(1, 2 ** rng.choice([8, 64, 256])))


def _reachable(db: dict[bytes, bytes], root: bytes) -> set[bytes]:
    """Hashes of every node of the trie at ``root`` stored by hash."""
    seen: set[bytes] = set()
    stack = [root] if root != BLANK_ROOT_HASH else []
    while stack:
        node_hash = stack.pop()
        seen.add(node_hash)
        todo = [trie_nodes.decode(db[node_hash])]
        while todo:
            node = todo.pop()
            children = (
                node[:16]
                if len(node) == 17
                else node[1:]
                if not trie_nodes.decode_hex_prefix(node[0])[1]
                else []
            )
            for child in children:
                if isinstance(child, list):
                    todo.append(child)
                elif len(child) == 32:
                    stack.append(child)
    return seen


@pytest.mark.parametrize("seed", range(40))
def test_update_matches_hexary_trie(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([0, 1, 2, 3, 17, 100, 600])
    key_len = rng.choice([32, 32, 1, 2])  # storage keys are 32-byte hashes; short keys force embedded nodes
    keys = [
        rng.randbytes(key_len) if key_len == 32 else bytes(rng.randrange(3) for _ in range(key_len))
        for _ in range(2 * size + 4)
    ]
    db: dict[bytes, bytes] = {}
    reference = HexaryTrie(db, BLANK_ROOT_HASH)
    for key in keys[:size]:
        reference[key] = _value(rng)
    old_root = reference.root_hash
    changes: dict[bytes, bytes | None] = {}
    for _ in range(rng.choice([1, 2, 10, 200])):
        key = rng.choice(keys)
        changes[key] = None if rng.random() < rng.choice([0.1, 0.5, 0.9]) else _value(rng)

    expected = HexaryTrie(dict(db), old_root)
    for key, value in changes.items():
        if value is None:
            del expected[key]
        else:
            expected[key] = value
    new_root, nodes = update_trie(lambda h: trie_nodes.decode(db[h]), Hash32(old_root), changes)

    assert new_root == expected.root_hash
    merged: dict[bytes, bytes] = {**db}
    for node_hash, node in nodes.items():
        merged[node_hash] = node
    assert _reachable(merged, new_root) <= set(merged)  # every node of the new trie is stored
    assert set(nodes) <= _reachable(merged, new_root)  # and nothing else was made
    for key in set(keys):
        assert lookup(lambda h: trie_nodes.decode(merged[h]), new_root, key) == expected[key]


def test_delete_everything_gives_the_blank_root() -> None:
    db: dict[bytes, bytes] = {}
    reference = HexaryTrie(db, BLANK_ROOT_HASH)
    keys = [bytes([i]) * 32 for i in range(40)]
    for key in keys:
        reference[key] = b"\x01"
    deletions: dict[bytes, bytes | None] = dict.fromkeys(keys)
    new_root, nodes = update_trie(lambda h: trie_nodes.decode(db[h]), Hash32(reference.root_hash), deletions)
    assert (new_root, nodes) == (BLANK_ROOT_HASH, {})


@pytest.mark.parametrize("seed", range(20))
def test_node_codec_matches_pyrlp(seed: int) -> None:
    rng = random.Random(seed)

    def item(depth: int) -> object:
        if depth > 2 or rng.random() < 0.5:
            return rng.randbytes(rng.choice([0, 1, 1, 2, 31, 32, 55, 56, 57, 300] + [70_000] * (depth == 0)))
        return [item(depth + 1) for _ in range(rng.choice([0, 1, 2, 17]))]

    for _ in range(30):
        value = item(0)
        encoded = rlp.encode(value)
        assert trie_nodes.encode(value) == encoded
        assert trie_nodes.decode(encoded) == rlp.decode(encoded)


@given(st.binary(max_size=40), st.data())
def test_nibble_paths__round_trip_and_match_py_trie(key: bytes, data: st.DataObject) -> None:
    """A key's nibbles, packed back, are the key; a path's compact (hex-prefix) encoding, for a leaf or an
    extension of any length, decodes to the same path and flag, and is py-trie's encoding byte for byte."""
    path = trie_nodes.nibbles(key)
    assert path == bytes(n for byte in key for n in (byte >> 4, byte & 0x0F))
    assert trie_nodes.pack_nibbles(path) == key
    cut = data.draw(st.integers(0, len(path)))
    leaf = data.draw(st.booleans())
    encoded = trie_nodes.hex_prefix(path[cut:], leaf)
    assert trie_nodes.decode_hex_prefix(encoded) == (path[cut:], leaf)
    assert encoded == encode_nibbles(add_nibbles_terminator(path[cut:]) if leaf else path[cut:])


@pytest.mark.parametrize("seed", range(10))
def test_account_reads_through_decoded_nodes__match_hexary_trie(seed: int) -> None:
    """The account trie's fast reads (``DecodedReadTrie``) answer as ``HexaryTrie`` for present and absent
    keys, at the current root and at an older one."""
    from pamchain.node.chain.bulk_storage import DecodedReadTrie

    rng = random.Random(seed)
    db: dict[bytes, bytes] = {}
    plain = HexaryTrie(db)
    keys = [rng.randbytes(32) for _ in range(rng.randrange(1, 300))]
    for key in keys:
        plain[key] = _value(rng)
    old_root = plain.root_hash
    for key in rng.sample(keys, len(keys) // 3):
        plain[key] = _value(rng)
    absent = [rng.randbytes(32) for _ in range(50)] + [k[:31] + bytes([k[31] ^ 1]) for k in keys[:20]]
    for root_hash in (plain.root_hash, old_root):
        plain.root_hash = root_hash
        fast = DecodedReadTrie(db, root_hash)
        for key in keys + absent:
            assert fast[key] == plain[key]


def test_account_read_of_a_missing_node__raises_py_evms_missing_trie_node() -> None:
    from pamchain.node.chain.bulk_storage import DecodedReadTrie
    from trie.exceptions import MissingTrieNode

    db: dict[bytes, bytes] = {}
    plain = HexaryTrie(db)
    keys = [bytes([i]) * 32 for i in range(40)]
    for key in keys:
        plain[key] = rlp.encode(b"pamchain-missing-node-test" + key)  # nodes no other test has cached
    del db[plain.root_hash]
    with pytest.raises(MissingTrieNode) as raised:
        DecodedReadTrie(db, plain.root_hash)[keys[0]]
    assert raised.value.missing_node_hash == plain.root_hash


@given(
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**256 - 1),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
)
def test_account_encoding__same_bytes_as_pyrlp(nonce: int, balance: int, root: bytes, code: bytes) -> None:
    account = Account(nonce, balance, root, code)
    assert encode_account(account) == rlp.encode(account, sedes=Account)
    assert rlp.decode(encode_account(account), sedes=Account) == account
