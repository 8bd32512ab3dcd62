"""The state diff pruning counts with, against a brute-force count of every node's places in both states."""

from __future__ import annotations

import random
from collections import Counter
from typing import cast

import pytest
from eth.abc import DatabaseAPI
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth_typing import Address, Hash32
from pamchain.node import trie_nodes
from pamchain.node.state_diff import EMPTY_CODE_HASH, state_diff
from pamchain.node.trie_nodes import BLANK_ROOT


def _places(db: dict[bytes, bytes], root: bytes) -> Counter[bytes]:
    """Every stored node of the world state at ``root`` (account trie and storage tries), counted by place."""
    found: Counter[bytes] = Counter()

    def walk(trie_root: bytes, accounts: bool) -> None:
        if trie_root == BLANK_ROOT:
            return
        stack: list[object] = [trie_root]
        while stack:
            ref = stack.pop()
            if isinstance(ref, bytes):
                found[ref] += 1
                node = trie_nodes.decode(db[ref])
            else:
                node = ref
            assert isinstance(node, list)
            if len(node) == 17:
                stack.extend(c for c in node[:16] if c != b"")
            elif trie_nodes.decode_hex_prefix(node[0])[1]:
                if accounts:
                    walk(trie_nodes.decode(node[1])[2], False)
            else:
                stack.append(node[1])

    walk(root, True)
    return found


def _mutate(db: AtomicDB, root: bytes, rng: random.Random, accounts: list[Address]) -> bytes:
    state = AccountDB(db, Hash32(root))
    for _ in range(rng.choice([1, 3, 40])):
        who = rng.choice(accounts)
        roll = rng.random()
        if roll < 0.1:
            state.delete_account(who)
        elif roll < 0.2:
            state.set_balance(who, rng.randrange(10**18))
        elif roll < 0.25:
            state.set_code(who, rng.randbytes(rng.choice([1, 40])))
        else:
            # few slots and few values: the same leaf in several contracts' tries, values coming back
            state.set_storage(who, rng.randrange(8), rng.choice([0, 1, 2, 2**200]))
    state.persist()
    return state.state_root


@pytest.mark.parametrize("seed", range(30))
def test_diff__counts_every_place__like_a_full_walk(seed: int) -> None:
    rng = random.Random(seed)
    raw: dict[bytes, bytes] = {}
    db = AtomicDB(cast(DatabaseAPI, raw))
    accounts = [Address(bytes([i]) * 20) for i in range(1, 6)]
    root: bytes = BLANK_ROOT
    for _ in range(12):
        new_root = _mutate(db, root, rng, accounts)
        diff = state_diff(raw.__getitem__, root, new_root)
        before, after = _places(raw, root), _places(raw, new_root)
        assert after == before - diff.removed_places + diff.added_places
        assert not (diff.removed_places - before)  # only nodes that were there left
        assert set(diff.added) == set(diff.added_places)
        assert all(raw[h] == encoded for h, encoded in diff.added.items())
        root = new_root


def test_diff__reports_the_code_of_changed_accounts() -> None:
    raw: dict[bytes, bytes] = {}
    state = AccountDB(AtomicDB(cast(DatabaseAPI, raw)), BLANK_ROOT)
    state.set_code(Address(b"\x01" * 20), b"\x60\x00")
    state.set_balance(Address(b"\x02" * 20), 5)
    state.persist()
    diff = state_diff(raw.__getitem__, BLANK_ROOT, state.state_root)
    assert diff.codes == {state.get_code_hash(Address(b"\x01" * 20))}
    assert EMPTY_CODE_HASH not in diff.codes
    assert state_diff(raw.__getitem__, state.state_root, state.state_root).added == {}
