"""The chain's store, VM configuration, genesis, headers, signers, state reads, permissioning, commit and finality:
what building, importing and queries all stand on."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import ChainContext
from eth.consensus.context import ConsensusContext
from eth.consensus.noproof import NoProofConsensus
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA256, EMPTY_UNCLE_HASH, GENESIS_PARENT_HASH, ZERO_HASH32
from eth.db.account import AccountDB
from eth.exceptions import HeaderNotFound
from eth_keys.exceptions import BadSignature
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError

from .. import block_rows, consensus, finality, receipt_blobs
from ..errors import (
    ExecutionFailed,
    ExecutionReverted,
    GenesisError,
    NotFound,
    StateUnavailable,
    StorageError,
)
from ..genesis import PERMISSION_SELECTOR, Genesis
from ..ordered_trie import ordered_trie_items
from ..records import (
    CallRequest,
    HeaderRecord,
    PoolTx,
    ReceiptRecord,
)
from ..state_diff import StateDiff, state_diff
from ..storage import (
    LOG_INDEX_VERSION,
    META_LOG_BACKFILL,
    META_LOG_INDEX,
    CommittedReads,
    LogRow,
    NodeDB,
    SqliteStore,
)
from . import readset
from .calldata_floor import with_calldata_floor
from .chaindb import NodeChainDB
from .execution import Calls
from .headers import header_record
from .initcode import with_initcode_rules
from .log_index import rows_for
from .p256 import with_p256verify
from .pruning import DEFAULT_STATE_HISTORY, META_STATE_KEPT_FROM, added_refs, commit_refs
from .vms import LRU, META_CHAIN_ID, META_GENESIS, VMS, with_fast_tries

log = logging.getLogger(__name__)
_PERMISSION_GAS = 1_000_000  # what a permission call may use

CHECKPOINTS_KEY = (
    b"pamchain:ffg:"  # + block hash: the FFG checkpoints of the block's branch after it (finality.py)
)
_OWN_VOTE_KEY = b"pamchain:ffg-own:"  # + signer: the last vote this node's signer cast (finality.LastVote)
_OWN_VOTE_SCAN = 256  # blocks of the branch read for the signer's own votes before it votes (_cast_vote)

CACHED_TXS = 8_192  # transactions (or receipts) the block and receipt caches hold at most, ~12 full blocks
ROW_CACHE_BYTES = (
    16 << 20
)  # receipts and transactions rows kept for one-log reads (~600 of each for 64 grants)


def evm_transaction(tx: PoolTx) -> SignedTransactionAPI:
    """The decoded transaction a pool entry carries from admission to block building (``PoolTx.evm``)."""
    return cast(SignedTransactionAPI, tx.evm)


class _ForkVMs(dict[str, Any]):
    """A chain's VM class per fork, configured the first time a fork is asked for.

    Configuring all of py-evm's forks took 65 ms per ``Chain``, nearly all of it for forks the chain never runs
    (a chain's schedule usually names one or two). Readers on other threads ask too: the first class configured
    for a fork is the one every caller gets.
    """

    def __init__(self, configure: Callable[[str], Any]) -> None:
        super().__init__()
        self._configure = configure
        self._lock = threading.Lock()

    def __missing__(self, fork: str) -> Any:
        if fork not in VMS:
            raise KeyError(fork)
        with self._lock:
            if not dict.__contains__(self, fork):
                self[fork] = self._configure(fork)
            return dict.__getitem__(self, fork)


class ChainBase(Calls):
    """One chain on one store: what ``Chain``'s building, importing and queries share.

    What leaves the chain layer is records: a block is named by its ``HeaderRecord`` (``head_record()``,
    ``header_by_hash``, ...) and every public method takes one back; ``head`` and ``finalized`` (py-evm headers)
    and the ``_``-methods are for the chain layer itself (tests/node/test_chain_boundary.py checks what others
    name).
    """

    genesis: Genesis
    store: SqliteStore
    genesis_hash: bytes
    head: BlockHeaderAPI  # chain layer only: others read head_record()
    finalized: BlockHeaderAPI  # chain layer only: others read finalized_record()

    timestamp_step: int  # 0 on a Clique chain of period 0 (blocks may share a second, EIP-225), else 1

    def __init__(
        self,
        genesis: Genesis,
        store: SqliteStore,
        *,
        seal_check: bool = True,
        state_history: int | None = DEFAULT_STATE_HISTORY,
    ) -> None:
        if state_history is not None and state_history < 1:
            raise ValueError("state_history must be at least 1 block (None keeps every state)")
        self.genesis = genesis
        self.store = store
        self.state_history = state_history  # blocks whose state is kept below the head; None: all (archive)
        self._state_kept_from = 0  # the oldest canonical block whose state is kept (pruning.py)
        self.db = NodeDB(store)
        self.history = CommittedReads(store)  # committed blocks' tries, past the read cache
        self.chaindb = NodeChainDB(self.db)
        self.chain_context = ChainContext(genesis.chain_id)
        self.clique = genesis.clique is not None
        self.seal_check = seal_check
        self.timestamp_step = consensus.timestamp_step(genesis.clique.period) if genesis.clique else 1
        if self.clique and seal_check:
            assert genesis.clique is not None
            self.context_class: Any = consensus.context_class(genesis.clique.epoch)
        else:
            self.context_class = ConsensusContext
        self.consensus_context: Any = self.context_class(self.db)
        self._derived_classes = {}
        # The layers every fork's VM is made of, fixed now although a fork is configured only when first used
        # (a test makes a reference chain by replacing a layer while it makes the chain).
        layers = (with_calldata_floor, with_initcode_rules, with_fast_tries)
        self._vm_classes = _ForkVMs(lambda fork: self._fork_vm(fork, layers))
        self._headers: LRU[bytes, BlockHeaderAPI] = LRU(4096)
        self._header_records: LRU[bytes, HeaderRecord] = LRU(256)
        self._head_record: HeaderRecord | None = None  # asked for on every RPC read: see head_record()
        self._finalized_record: HeaderRecord | None = None
        # Blocks, receipts and receipt records are bounded by the transactions they hold (a full block weighs
        # ~666), so memory stays flat however long the history a client reads.
        self._blocks: LRU[bytes, BlockAPI] = LRU(CACHED_TXS, lambda b: len(b.transactions) + 1)
        self._receipts: LRU[bytes, tuple[ReceiptAPI, ...]] = LRU(CACHED_TXS, lambda r: len(r) + 1)
        # a client polling receipts reads the same block repeatedly
        self._receipt_records: LRU[bytes, tuple[ReceiptRecord, ...]] = LRU(
            CACHED_TXS // 2, lambda r: len(r) + 1
        )
        # receipts and transactions rows read one log at a time (eth_getLogs by principal), bounded by their bytes
        self._row_cache: LRU[bytes, bytes] = LRU(ROW_CACHE_BYTES, len)
        self._senders: LRU[bytes, bytes] = LRU(65_536)
        self._allowed: LRU[tuple[bytes, bytes], bool] = LRU(4096)
        # Per sender, its last permission call's inputs and answer: carried to a new head where the inputs hold.
        self._allowed_reads: LRU[bytes, tuple[readset.ReadSet, bool]] = LRU(4096)
        self.permission_calls: Counter[str] = Counter()  # "run" / "carried" (read by tests)
        self._states: LRU[bytes, StateAPI] = LRU(4)
        self._ffg: LRU[bytes, finality.Checkpoints] = LRU(1024)
        self._ffg_epoch = finality.epoch_length(len(genesis.signers))
        self._open()

    # ------------------------------------------------------------------------------------------------ setup
    def _fork_vm(self, fork: str, layers: Sequence[Callable[[Any], Any]]) -> Any:
        """``fork``'s VM with the chain's consensus, then ``layers``: the validity rules py-evm lacks (EIP-7623's
        floor, EIP-3860's initcode rules) and the node's speed-ups; EIP-7951's P256VERIFY on Prague if the
        genesis asks for it (docs/node.md: WebAuthn checked by contracts)."""
        vm = VMS[fork]
        if self.clique:
            assert self.genesis.clique is not None
            vm_class = consensus.configure_clique_vm(fork, vm, self.genesis.clique.period)
            if not self.seal_check:
                vm_class = vm_class.configure(consensus_class=NoProofConsensus)
        else:
            vm_class = vm.configure(__name__=f"Imported{vm.__name__}", consensus_class=NoProofConsensus)
        for layer in layers:
            vm_class = layer(vm_class)
        if fork == "prague" and self.genesis.p256_verify:
            vm_class = with_p256verify(vm_class)
        return vm_class

    def vm_class_for(self, number: int, timestamp: int) -> Any:
        return self._vm_classes[self.genesis.schedule.fork_at(number, timestamp)]

    def _vm(self, header: BlockHeaderAPI, vm_class: Any = None) -> Any:
        cls = vm_class or self.vm_class_for(header.block_number, header.timestamp)
        return cls(
            header=header,
            chaindb=self.chaindb,
            chain_context=self.chain_context,
            consensus_context=self.consensus_context,
        )

    def _open(self) -> None:
        stored = self.store.get_meta(META_GENESIS)
        genesis_header = self._genesis_header()
        if stored is None:
            block = self.vm_class_for(0, self.genesis.timestamp).get_block_class()(
                genesis_header, transactions=[], uncles=[], **self._empty_withdrawals(genesis_header)
            )
            self.chaindb.persist_block(block)
            diff = state_diff(self.db.staged.__getitem__, BLANK_ROOT_HASH, genesis_header.state_root)
            self.db.commit(
                meta=[
                    (META_GENESIS, genesis_header.hash),
                    (META_CHAIN_ID, str(self.genesis.chain_id).encode()),
                    (META_LOG_INDEX, LOG_INDEX_VERSION),
                    (META_STATE_KEPT_FROM, b"0"),
                ],
                refs=added_refs(diff),
            )
        elif stored != genesis_header.hash:
            self.db.discard()
            raise StorageError(
                f"datadir holds a chain with genesis 0x{stored.hex()}, not 0x{genesis_header.hash.hex()}"
            )
        else:
            self.db.discard()  # the genesis state we just recomputed is already on disk
        self.head = self.chaindb.get_canonical_head()
        self.genesis_hash = genesis_header.hash
        self.finalized = genesis_header
        self._advance_finality()
        if self.store.get_meta(META_LOG_INDEX) != LOG_INDEX_VERSION:
            self._backfill_log_index()
        kept_from = self.store.get_meta(META_STATE_KEPT_FROM)
        if kept_from is None:
            # A datadir from before pruning: none of its nodes is counted, so every state it holds stays (a
            # count cannot be rebuilt without walking them all); counting starts with the next block.
            kept_from = str(self.head.block_number).encode()
            self.store.commit((), meta=[(META_STATE_KEPT_FROM, kept_from)])
        self._state_kept_from = int(kept_from)

    def _backfill_log_index(self, batch: int = 64) -> None:
        """Index the logs of a datadir written before the log index (or by an older one), once, at start-up.

        Reads each canonical block's receipts once, commits every ``batch`` blocks with its progress, so a
        node stopped half-way resumes where it was; the old block-number index is dropped at the end.
        """
        done = self.store.get_meta(META_LOG_BACKFILL)
        start = int(done) + 1 if done is not None else 1
        head = int(self.head.block_number)
        log.info("indexing logs of blocks %d..%d (once, for a datadir older than the log index)", start, head)
        for first in range(start, head + 1, batch):
            last = min(first + batch - 1, head)
            rows: list[LogRow] = []
            for number in range(first, last + 1):
                header = self._header_by_number(number)
                if header.bloom:
                    rows.extend(rows_for(number, self._evm_receipts(header)))
            self.store.commit((), (), rows, [(META_LOG_BACKFILL, str(last).encode())])
            self._receipts.clear()
        self.store.commit(
            (),
            (),
            meta=[(META_LOG_INDEX, LOG_INDEX_VERSION)],
            statements=["DROP TABLE IF EXISTS log_index", f"DELETE FROM meta WHERE k='{META_LOG_BACKFILL}'"],
        )

    @staticmethod
    def _empty_withdrawals(header: BlockHeaderAPI) -> dict[str, Any]:
        return {"withdrawals": []} if hasattr(header, "withdrawals_root") else {}

    def _genesis_header(self) -> BlockHeaderAPI:
        g = self.genesis
        account_db = AccountDB(self.db)
        for address, acct in g.alloc.items():
            addr = Address(address)
            account_db.set_balance(addr, acct.balance)
            if acct.nonce:
                account_db.set_nonce(addr, acct.nonce)
            if acct.code:
                account_db.set_code(addr, acct.code)
            for slot, value in acct.storage.items():
                account_db.set_storage(addr, slot, value)
        account_db.persist()
        fork = g.schedule.fork_at(0, g.timestamp)
        vm_class = self._vm_classes[fork]
        header_class = dict(vm_class.get_block_class()._meta.fields)["header"]
        fields: dict[str, Any] = {
            "parent_hash": GENESIS_PARENT_HASH,
            "uncles_hash": EMPTY_UNCLE_HASH,
            "coinbase": g.coinbase,
            "state_root": account_db.state_root,
            "transaction_root": BLANK_ROOT_HASH,
            "receipt_root": BLANK_ROOT_HASH,
            "bloom": 0,
            "difficulty": g.difficulty,
            "block_number": 0,
            "gas_limit": g.gas_limit,
            "gas_used": 0,
            "timestamp": g.timestamp,
            "extra_data": g.extra_data,
            "mix_hash": g.mix_hash,
            "nonce": g.nonce,
        }
        names = header_class._meta.field_names
        if "base_fee_per_gas" in names:
            fields["base_fee_per_gas"] = g.base_fee if g.base_fee is not None else 1_000_000_000
        if "withdrawals_root" in names:
            fields["withdrawals_root"] = BLANK_ROOT_HASH
        if "blob_gas_used" in names:
            fields["blob_gas_used"] = g.blob_gas_used or 0
            fields["excess_blob_gas"] = g.excess_blob_gas or 0
            fields["parent_beacon_block_root"] = ZERO_HASH32
        if "requests_hash" in names:
            fields["requests_hash"] = EMPTY_SHA256
        try:
            header: BlockHeaderAPI = header_class(**fields)
        except (TypeError, ValidationError, rlp.exceptions.ObjectSerializationError) as exc:
            raise GenesisError(f"cannot build genesis header: {exc}") from exc
        return header

    # ---------------------------------------------------------------------------------------------- headers
    def _header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI:
        header = self._headers.get(block_hash)
        if header is None:
            try:
                header = self.chaindb.get_block_header_by_hash(Hash32(block_hash))
            except HeaderNotFound as exc:
                raise NotFound(f"block 0x{block_hash.hex()} not found") from exc
            self._headers.put(block_hash, header)
        return header

    def _header_by_number(self, number: int) -> BlockHeaderAPI:
        if number > self.head.block_number or number < 0:
            raise NotFound(f"block {number} not found")
        if number == self.head.block_number:
            return self.head
        try:
            block_hash = self.chaindb.get_canonical_block_hash(BlockNumber(number))
        except HeaderNotFound as exc:
            raise NotFound(f"block {number} not found") from exc
        return self._header_by_hash(block_hash)

    def _is_canonical(self, header: BlockHeaderAPI) -> bool:
        try:
            return self.chaindb.get_canonical_block_hash(header.block_number) == header.hash
        except HeaderNotFound:
            return False

    def _record(self, header: BlockHeaderAPI) -> HeaderRecord:
        record = self._header_records.get(header.hash)
        if record is None:
            record = header_record(header)
            self._header_records.put(header.hash, record)
        return record

    def _evm_header(self, block: HeaderRecord) -> BlockHeaderAPI:
        """The py-evm header of a block named by its record: the head without a lookup (the common case:
        RPC reads on ``latest``), else from the header cache or the store."""
        head = self.head
        if block.hash == head.hash:
            return head
        return self._header_by_hash(block.hash)

    def head_record(self) -> HeaderRecord:
        """The canonical head: what every layer above the chain reads of it (from any thread: no cache of the
        chain thread's is touched, the record is rebuilt once per new head)."""
        head, record = self.head, self._head_record
        if record is None or record.hash != head.hash:
            record = self._head_record = header_record(head)
        return record

    @property
    def finality_epoch(self) -> int:
        """Blocks between two FFG checkpoints (sdk/chain/ffg.py): a transaction is final some 2 to 3 of these
        after its block, on a network whose signers keep sealing."""
        return self._ffg_epoch

    def finalized_record(self) -> HeaderRecord:
        """The block this node holds final (node/finality.py): RPC's ``safe`` and ``finalized``."""
        final, record = self.finalized, self._finalized_record
        if record is None or record.hash != final.hash:
            record = self._finalized_record = header_record(final)
        return record

    def header_by_hash(self, block_hash: bytes) -> HeaderRecord:
        """Any stored block, canonical or not; raises NotFound."""
        return self._record(self._header_by_hash(block_hash))

    def header_by_number(self, number: int) -> HeaderRecord:
        """The canonical block ``number``; raises NotFound."""
        return self._record(self._header_by_number(number))

    def is_canonical(self, block: HeaderRecord) -> bool:
        try:
            return self.chaindb.get_canonical_block_hash(BlockNumber(block.number)) == block.hash
        except HeaderNotFound:
            return False

    def _evm_block(self, header: BlockHeaderAPI) -> BlockAPI:
        block = self._blocks.get(header.hash)
        if block is None:
            block = (
                self.vm_class_for(header.block_number, header.timestamp)
                .get_block_class()
                .from_header(header, self.chaindb)
            )
            self._blocks.put(header.hash, block)
        return block

    def _evm_receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        receipts = self._receipts.get(header.hash)
        if receipts is None:
            block_class = self.vm_class_for(header.block_number, header.timestamp).get_block_class()
            decode = block_class.get_receipt_builder().decode
            encoded = self._stored_items(block_rows.RECEIPTS, header.receipt_root, receipt_blobs.items)
            receipts = tuple(decode(r) for r in encoded)
            self._receipts.put(header.hash, receipts)
        return receipts

    def _stored_items(
        self, prefix: bytes, root: bytes, items: Callable[[bytes], list[bytes]] = block_rows.items
    ) -> list[bytes]:
        """A block's receipts or transactions (their encodings, by index) from their rows, read with ``items``,
        or, for a block stored before rows, from their trie (one walk)."""
        if rows := self._rows(prefix, root):
            return [item for row in rows for item in items(row)]
        return ordered_trie_items(self.history, root)

    def _rows(self, prefix: bytes, root: bytes) -> list[bytes]:
        """A block's committed receipts or transactions rows (``block_rows.py``: ``prefix``, the root of their
        trie), unpacked, read past every cache (a full block's are ~120 kB); none for a block without any or one
        stored before them, whose items are in a trie."""
        if root == BLANK_ROOT_HASH:
            return []
        first, last = block_rows.key(prefix, root), block_rows.last_key(prefix, root)
        return [block_rows.unpack(row) for row in self.store.values_between(first, last)]

    def _row(self, prefix: bytes, root: bytes, index: int) -> tuple[bytes, int] | None:
        """The row holding a block's receipt or transaction ``index`` (unpacked, kept in a cache bounded by its
        bytes) and its place there; None as for ``_rows``."""
        if root == BLANK_ROOT_HASH:
            return None
        key = block_rows.key(prefix, root, index // block_rows.PER_ROW)
        row = self._row_cache.get(key)
        if row is None:
            stored = self.store.get(key)
            if stored is None:
                return None
            row = block_rows.unpack(stored)
            self._row_cache.put(key, row)
        return row, index % block_rows.PER_ROW

    # ------------------------------------------------------------------------------------------- signers
    def signers(self, block: HeaderRecord | None = None) -> tuple[bytes, ...]:
        """Authorized Clique signers after ``block`` (default: head)."""
        return self._signers(self.head if block is None else self._evm_header(block))

    def _signers(self, header: BlockHeaderAPI | None = None) -> tuple[bytes, ...]:
        if not self.clique:
            return ()
        header = header or self.head
        if not self.seal_check:
            return tuple(self.genesis.signers)
        snapshot = self.consensus_context.snapshot_manager.get_or_create_snapshot(
            header.block_number, header.hash
        )
        return tuple(snapshot.get_sorted_signers())

    # --------------------------------------------------------------------------------------- state reads
    def has_state(self, block: HeaderRecord) -> bool:
        """Does this node keep ``block``'s state (not pruned)?"""
        return self._has_state_root(block.state_root)

    def _has_state_root(self, state_root: bytes) -> bool:
        return state_root == BLANK_ROOT_HASH or self.db.staged._exists(state_root)

    def _state(self, header: BlockHeaderAPI) -> StateAPI:
        # Read-only state objects are reused per block: building one costs a VM, and its account cache
        # makes repeated nonce/balance lookups (txpool admission, RPC) nearly free. Never mutated.
        if not self._has_state_root(header.state_root):  # before the cache: it may hold a pruned state
            raise StateUnavailable(header.state_root)
        state = self._states.get(header.hash)
        if state is None:
            state = self._vm(header).state
            self._states.put(header.hash, state)
        return state

    def balance(self, address: bytes, block: HeaderRecord) -> int:
        return self._state(self._evm_header(block)).get_balance(Address(address))

    def nonce(self, address: bytes, block: HeaderRecord) -> int:
        return self._state(self._evm_header(block)).get_nonce(Address(address))

    def code(self, address: bytes, block: HeaderRecord) -> bytes:
        return self._state(self._evm_header(block)).get_code(Address(address))

    def storage_at(self, address: bytes, slot: int, block: HeaderRecord) -> int:
        return self._state(self._evm_header(block)).get_storage(Address(address), slot)

    def gas_budget(self, block: HeaderRecord) -> int:
        """Most gas the child of ``block`` may use (the gas target on a zero-base-fee chain, see genesis)."""
        return self.genesis.block_gas_budget(block.gas_limit)

    # --------------------------------------------------------------------------------------- permissions
    def is_allowed(self, sender: bytes, parent: HeaderRecord) -> bool:
        """Account permissioning judged against ``parent``'s state (the block the tx would be built on)."""
        return self._is_allowed(sender, self._evm_header(parent))

    def _is_allowed(self, sender: bytes, parent: BlockHeaderAPI) -> bool:
        perms = self.genesis.permissions
        if not perms.enabled or sender in perms.allowlist:
            return True
        if perms.contract is None:
            return False
        key = (parent.hash, sender)
        cached = self._allowed.get(key)
        if cached is not None:
            return bool(cached)
        vm_class = self.vm_class_for(parent.block_number, parent.timestamp)
        author = consensus.block_author(parent)
        earlier = self._allowed_reads.get(sender)
        if earlier is not None and earlier[0].holds(self._state(parent), vm_class, author):
            # Everything the last permission call for this sender read is unchanged here: so is its answer.
            allowed = earlier[1]
            self.permission_calls["carried"] += 1
        else:
            request = CallRequest(
                to=perms.contract, data=PERMISSION_SELECTOR + sender.rjust(32, b"\0"), gas=_PERMISSION_GAS
            )
            state = self._call_state(request, parent, self._derived(vm_class, "recording"))
            try:
                out = self._run(state, request, parent, _PERMISSION_GAS).output
                allowed = len(out) >= 32 and int.from_bytes(out[:32], "big") == 1
            except (ExecutionReverted, ExecutionFailed):
                allowed = False  # a missing or broken permission contract allows nobody beyond the allowlist
            self.permission_calls["run"] += 1
            reads = readset.recorded(state)
            if reads is None:
                self._allowed_reads.pop(sender, None)
            else:
                self._allowed_reads.put(sender, (reads, allowed))
        self._allowed.put(key, allowed)
        return allowed

    def _sender(self, tx: SignedTransactionAPI) -> bytes:
        sender = self._senders.get(tx.hash)
        if sender is None:
            sender = tx.sender
            self._senders.put(tx.hash, sender)
        return sender

    def _validate_header_chain(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        vm = self._vm(header)
        vm.validate_header(header, parent)
        vm.validate_seal(header)
        vm.validate_seal_extension(header, ())

    def _commit(self, block: BlockAPI, receipts: Sequence[ReceiptAPI]) -> None:
        new_head = self.chaindb.get_canonical_head()  # what the staged writes make the head
        if self.clique and self.seal_check:
            self._stage_checkpoints(block.header)
        added, dropped = self._log_index_change(new_head, block, receipts)
        diff = self._state_diff(block.header)
        target = None
        if self.state_history is not None:  # states that left the window and are final go
            target = min(new_head.block_number - self.state_history, self.finalized.block_number)
        refs, kept_from = commit_refs(
            self.store,
            diff,
            (block.number, block.hash),
            self._state_kept_from,
            target,
            lambda n: self.chaindb.get_canonical_block_hash(BlockNumber(n)),
            lambda h: self._state_diff(self._header_by_hash(h)),
            lambda h: self._header_by_hash(h).parent_hash,
        )
        if target is None:
            kept_from = new_head.block_number  # an archive keeps all; pruning, if turned on, starts here
        self.db.commit(
            log_rows=added,
            log_deletes=dropped,
            refs=refs,
            meta=[(META_STATE_KEPT_FROM, str(kept_from).encode())],
        )
        self._state_kept_from = kept_from
        self.head = new_head
        self._advance_finality()
        self._headers.put(block.hash, block.header)
        self._blocks.put(block.hash, block)
        self._receipts.put(block.hash, tuple(receipts))  # pollers ask for them at once; skip the trie read

    def _state_diff(self, header: BlockHeaderAPI) -> StateDiff:
        """What a block changed in its parent's state (both still kept: see pruning.py)."""
        parent = self._header_by_hash(header.parent_hash)
        return state_diff(self.db.staged.__getitem__, parent.state_root, header.state_root)

    def _log_index_change(
        self, new_head: BlockHeaderAPI, block: BlockAPI, receipts: Sequence[ReceiptAPI]
    ) -> tuple[list[LogRow], list[LogRow]]:
        """Log index rows to add and to drop when the head moves from ``self.head`` to ``new_head``.

        The index holds canonical blocks only: extending the head adds the block's rows; a reorg drops the
        rows of the blocks that left the canonical chain and adds those of the blocks that joined it (side
        blocks imported earlier included), in the same commit as the head pointer.
        """
        old = self.head
        if new_head.hash == old.hash:
            return [], []  # a side block: not canonical, not indexed
        if new_head.hash == block.hash and block.header.parent_hash == old.hash:
            return rows_for(block.number, receipts), []
        left: list[BlockHeaderAPI] = []
        joined: list[BlockHeaderAPI] = []
        a, b = old, new_head
        while a.hash != b.hash:
            if a.block_number >= b.block_number:
                left.append(a)
                a = self._header_by_hash(a.parent_hash)
            else:
                joined.append(b)
                b = self._header_by_hash(b.parent_hash)

        def rows(header: BlockHeaderAPI) -> list[LogRow]:
            if not header.bloom:
                return []
            got = receipts if header.hash == block.hash else self._evm_receipts(header)
            return rows_for(header.block_number, got)

        return [r for h in joined for r in rows(h)], [r for h in left for r in rows(h)]

    # ------------------------------------------------------------------------- fork choice and finality
    def total_difficulty(self, block: HeaderRecord) -> int:
        return self._total_difficulty(block.hash)

    def _total_difficulty(self, block_hash: bytes) -> int:
        return int(self.chaindb.get_score(Hash32(block_hash)))

    def _advance_finality(self) -> None:
        """Move ``finalized`` forward to what the head's branch holds final (see finality.py); never backwards."""
        if not (self.clique and self.seal_check):
            self.finalized = self.head  # no seals to count: imported/foreign chains treat the head as final
            return
        head = self.head
        number = finality.final_height(self.checkpoints(head), len(self._signers(head)), head.block_number)
        if number > self.finalized.block_number or not self._is_canonical(self.finalized):
            self.finalized = self._header_by_number(number)

    def checkpoints(self, header: BlockHeaderAPI) -> finality.Checkpoints:
        """The FFG checkpoints of ``header``'s branch after it (stored with each block since they were kept;
        an older datadir's are computed once from the last block that has them, or from genesis)."""
        pending: list[BlockHeaderAPI] = []
        current = header
        while True:
            found = self._ffg.get(current.hash)
            if found is None:
                stored = self.db.staged.get(CHECKPOINTS_KEY + current.hash) if current.block_number else None
                found = finality.Checkpoints.decode(stored) if stored else None
            if found is None and current.block_number == 0:
                found = finality.Checkpoints(epoch=self._ffg_epoch)
            if found is not None:
                break
            pending.append(current)
            current = self._header_by_hash(current.parent_hash)
        for block in reversed(pending):
            found = self._apply_votes(found, block)
            self._ffg.put(block.hash, found)
        return found

    def _apply_votes(self, parent: finality.Checkpoints, header: BlockHeaderAPI) -> finality.Checkpoints:
        vote = finality.read_vote(header.extra_data, header.block_number)
        signer = self._sealer(header) if vote is not None else None
        if signer is None:
            return parent
        signers = frozenset(self._signers(self._header_by_hash(header.parent_hash)))
        return finality.apply(parent, signer, vote, signers)

    def _cast_vote(self, parent: BlockHeaderAPI, signer: bytes) -> finality.Vote | None:
        """The FFG vote ``signer`` puts in the block it seals on ``parent``, its record staged with the block.

        The record is the node's; the votes the signer's blocks carry on this branch count too, so a datadir
        restored from a backup (or rebuilt) that synced its later blocks back does not vote their targets again.
        """
        key = _OWN_VOTE_KEY + signer
        stored = self.db.staged.get(key)
        own = finality.LastVote.decode(stored) if stored else finality.LastVote()
        branch = self.checkpoints(parent)
        above_final = max(0, parent.block_number - branch.finalized)  # votes at or below it are moot
        for header in self._recent_branch(parent, min(above_final, _OWN_VOTE_SCAN)):
            cast = finality.read_vote(header.extra_data, header.block_number)
            if cast is not None and cast.target > own.last and self._sealer(header) == signer:
                own = finality.LastVote(cast.source, cast.target)
        vote = finality.next_vote(branch, own, parent.block_number + 1, self._ffg_epoch)
        if vote is not None:
            self.db.staged[key] = finality.LastVote(vote.source, vote.target).encode()
        return vote

    def _recent_branch(self, header: BlockHeaderAPI, count: int) -> Iterator[BlockHeaderAPI]:
        """``header`` and its ancestors, newest first, at most ``count`` of them and never genesis."""
        for _ in range(count):
            if header.block_number == 0:
                return
            yield header
            header = self._header_by_hash(header.parent_hash)

    def _sealer(self, header: BlockHeaderAPI) -> bytes | None:
        try:
            return bytes(consensus.cached_signer(header))
        except (ValueError, BadSignature):
            return None  # an unsealed header counts for nobody

    def _stage_checkpoints(self, header: BlockHeaderAPI) -> None:
        """Stage (committed with the block) the checkpoints after ``header``."""
        if header.block_number:
            self.db.staged[CHECKPOINTS_KEY + header.hash] = self.checkpoints(header).encode()

    def has_block(self, block_hash: bytes) -> bool:
        return bool(self.chaindb.header_exists(Hash32(block_hash)))

    def can_seal(self, signer: bytes) -> bool:
        """May ``signer`` seal the next block on the head (authorized, not within the recently-signed limit)?"""
        return signer in self._signers(self.head) and signer not in self.recently_signed()

    def recently_signed(self) -> frozenset[bytes]:
        """The signers barred from sealing the next block on the head (EIP-225's recently-signed limit)."""
        signers = self._signers(self.head)
        return frozenset(consensus.recent_signers(self._header_by_hash, Hash32(self.head.hash), len(signers)))
