"""py-evm's account database with each storage trie updated once per state root, in bulk (``bulk_trie.py``).

py-evm already collects a block's storage writes in a journal per account, but flushes that journal into the
storage trie one slot at a time, re-encoding and re-hashing the path to the root for every slot. The lookup
below keeps flushed writes in a dict (hashed slot -> value) and applies them to the trie in one walk when the
storage root is asked for (``make_state_root``: once per block after Byzantium). Reads see the pending
writes first. Everything else, journaling, reverts, account deletion and its rollback, is py-evm's.
"""

from __future__ import annotations

from typing import Any, cast

from eth.abc import AccountStorageDatabaseAPI, DatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.accesslog import KeyAccessLoggerDB
from eth.db.account import AccountDB
from eth.db.cache import CacheDB
from eth.db.hash_trie import HashTrie
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from eth.rlp.accounts import Account
from eth.validation import validate_canonical_address, validate_uint64, validate_uint256
from eth.vm.interrupt import MissingStorageTrieNode
from eth_typing import Address, Hash32
from eth_utils import ValidationError, int_to_big_endian, keccak
from rlp.codec import encode_raw
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode

from ..bulk_trie import lookup, update_trie
from ..trie_nodes import decoded


class BulkStorageLookup(StorageLookup):
    """``StorageLookup`` whose writes wait in ``_pending`` until the root is needed, then go in at once."""

    _pending: dict[bytes, bytes | None]  # hashed slot -> rlp value, None: deleted
    _root: Hash32  # the root with everything flushed so far (``_starting_root_hash`` until a write)
    _nodes: dict[Hash32, bytes]  # trie nodes made since the last commit, not yet in the database
    _changed: bool  # py-evm's ``_write_trie is not None``: written to since the last commit or new trie
    _history: list[tuple[Hash32, Hash32, dict[bytes, bytes | None], dict[Hash32, bytes], bool]]

    def _initialize_to_root_hash(self, root_hash: Hash32) -> None:
        self._starting_root_hash = root_hash
        self._root = root_hash
        self._pending = {}
        self._nodes = {}
        self._changed = False
        self._history = []

    # -- reads and writes ---------------------------------------------------------------------------------
    def __getitem__(self, key: bytes) -> bytes:
        hashed = self._decode_key(key)
        pending = self._pending.get(hashed, ...)
        if pending is not ...:
            return pending or b""
        try:
            return lookup(self._node, self._root, hashed)
        except KeyError as exc:
            raise MissingStorageTrieNode(
                exc.args[0], self._starting_root_hash, Hash32(hashed), None, self._address
            ) from exc

    def _node(self, node_hash: bytes) -> Any:
        """A trie node by hash, decoded (cached: every read of a slot walks the same top nodes)."""
        pending = self._nodes
        return decoded(node_hash, lambda h: pending.get(h) or self._db[h])  # type: ignore[call-overload]

    def _exists(self, key: bytes) -> bool:
        return self[key] != b""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[self._decode_key(key)] = value or None
        self._changed = True

    def __delitem__(self, key: bytes) -> None:
        self._pending[self._decode_key(key)] = None
        self._changed = True

    # -- roots --------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        if self._pending:
            self._root, nodes = update_trie(self._node, self._root, self._pending)
            self._nodes.update(nodes)
            self._pending = {}

    @property
    def has_changed_root(self) -> bool:
        return self._changed

    def get_changed_root(self) -> Hash32:
        if not self._changed:
            raise ValidationError("Asked for changed root when no writes have been made")
        self._flush()
        return self._root

    def commit_to(self, db: DatabaseAPI) -> None:
        if not self._changed:
            raise ValidationError(
                "It is invalid to commit an account's storage if it has no pending changes. "
                f"Root hash = 0x{self._starting_root_hash.hex()}"
            )
        self._flush()
        for node_hash, node in self._nodes.items():
            db[node_hash] = node
        self._initialize_to_root_hash(self._root)

    # -- account deletion (SELFDESTRUCT of a contract created in the same transaction, CREATE2 on it) --------
    def new_trie(self) -> int:
        self._history.append((self._starting_root_hash, self._root, self._pending, self._nodes, True))
        self._starting_root_hash = BLANK_ROOT_HASH
        self._root = BLANK_ROOT_HASH
        self._pending = {}
        self._nodes = {}
        self._changed = False
        return len(self._history)

    def rollback_trie(self, trie_index: int) -> None:
        if trie_index >= len(self._history):
            raise ValidationError(
                f"Trying to roll back a delete to index {trie_index}, but there are "
                f"only {len(self._history)} indices available."
            )
        self._starting_root_hash, self._root, self._pending, self._nodes, self._changed = self._history[
            trie_index
        ]
        del self._history[trie_index:]


class BulkAccountStorageDB(AccountStorageDB):
    """``AccountStorageDB`` over a ``BulkStorageLookup`` (py-evm's layers above it unchanged)."""

    def __init__(self, db: Any, storage_root: Hash32, address: Address) -> None:
        super().__init__(db, storage_root, address)
        self._storage_lookup = BulkStorageLookup(db, storage_root, address)
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class DecodedReadTrie(HexaryTrie):
    """py-evm's account trie, whose reads walk the shared cache of decoded nodes (``lookup``) instead of
    ``HexaryTrie``'s traversal, which RLP-decoded every node of the path again at every read (the sender,
    recipient, code and fee recipient of each transaction and call: a tenth of an ``eth_call``)."""

    def get(self, key: bytes) -> bytes:
        try:
            return lookup(self.node, Hash32(self.root_hash), key)
        except KeyError as exc:
            raise MissingTrieNode(exc.args[0], Hash32(self.root_hash), key) from exc

    def node(self, node_hash: bytes) -> Any:
        """A stored node of this trie, decoded (from the shared cache when another read decoded it)."""
        return decoded(node_hash, self.db.__getitem__)


def encode_account(account: Account) -> bytes:
    """``rlp.encode(account, sedes=Account)``: nonce and balance as minimal big-endian integers, then the
    two 32-byte hashes."""
    encoded: bytes = encode_raw(
        [
            int_to_big_endian(account.nonce) if account.nonce else b"",
            int_to_big_endian(account.balance) if account.balance else b"",
            account.storage_root,
            account.code_hash,
        ]
    )
    return encoded


class BulkAccountDB(AccountDB):
    """py-evm's ``AccountDB`` whose storage tries, and the account trie, are updated in bulk, and whose
    account reads walk decoded nodes (``DecodedReadTrie``)."""

    def __init__(self, db: Any, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        # py-evm's pipe of account lookups (its docstring), with the fast-reading trie at its end
        self._account_trie = DecodedReadTrie(self._batchtrie, state_root, prune=True)
        self._trie = HashTrie(cast(DatabaseAPI, self._account_trie))  # as py-evm passes its HexaryTrie
        self._trie_logger = KeyAccessLoggerDB(self._trie, log_missing_keys=False)
        self._trie_cache = CacheDB(self._trie_logger)
        self._journaltrie = JournalDB(self._trie_cache)

    # -- account writes: py-evm makes each with ``Account.copy`` (a deep copy of every other field, then rlp's
    # keyword merging and checks) and ``rlp.encode`` with the ``Account`` sedes: 24 us a write, four writes a
    # transaction (the sender's fee and nonce, the refund, the fee recipient). The same account built from its
    # fields and encoded by rlp's raw encoder is the same bytes in 7.5 us (``test_bulk_trie.py``).
    def set_balance(self, address: Address, balance: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint256(balance, title="Account Balance")
        account = self._get_account(address)
        self._set_account(address, Account(account.nonce, balance, account.storage_root, account.code_hash))

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint64(nonce, title="Nonce")  # as py-evm: 2**64 - 1 allowed here
        account = self._get_account(address)
        self._set_account(address, Account(nonce, account.balance, account.storage_root, account.code_hash))

    def _set_account(self, address: Address, account: Account) -> None:
        self._account_cache[address] = account
        self._journaltrie[address] = encode_account(account)

    def make_state_root(self) -> Hash32:
        """py-evm's, except that the changed accounts go into the account trie in one walk (``update_trie``)
        rather than one ``HexaryTrie`` write each, which re-encoded the path to the root per account (a
        fifth of sealing a one-transaction block: sender, contract and fee recipient, three paths)."""
        for _address, store in self._dirty_account_stores():
            store.make_storage_root()
        for address, storage_root in self._get_changed_roots():
            if self.account_exists(address) or storage_root != BLANK_ROOT_HASH:
                self._set_storage_root(address, storage_root)
        self._journaldb.persist()
        diff = self._journaltrie.diff()
        changes: dict[bytes, bytes | None] = {keccak(key): value for key, value in diff.pending_items()}
        changes.update((keccak(key), None) for key in diff.deleted_keys())
        if changes:
            new_root, nodes = update_trie(self._account_trie.node, self._trie.root_hash, changes)
            for node_hash, node in nodes.items():
                self._batchtrie[node_hash] = node
            self._trie.root_hash = new_root
        self._journaltrie.reset()
        self._trie_cache.reset_cache()
        return self.state_root

    def _get_address_store(self, address: Address) -> AccountStorageDatabaseAPI:
        store = self._account_stores.get(address)
        if store is None:
            store = BulkAccountStorageDB(self._raw_store_db, self._get_storage_root(address), address)
            self._account_stores[address] = store
        return store
