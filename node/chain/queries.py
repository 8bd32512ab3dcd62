"""What the chain answers about itself: blocks, transactions, receipts, fees and proofs, as the frozen records
of ``records.py``, plus raw RLP encodings for peers and ``debug_*`` (logs: ``logs.py``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import rlp
from eth._utils.calculations import fake_exponential
from eth.abc import BlockHeaderAPI, LegacyTransactionFieldsAPI, SignedTransactionAPI
from eth.constants import BLANK_ROOT_HASH
from eth.exceptions import TransactionNotFound
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from trie import HexaryTrie

from .. import consensus
from ..errors import (
    NotFound,
)
from ..genesis import contract_address
from ..records import (
    AccessListEntry,
    Authorization,
    BlockRecord,
    CliqueActivityRecord,
    CliqueSnapshotRecord,
    CliqueVoteRecord,
    HeaderRecord,
    PoolTx,
    ReceiptRecord,
    TxRecord,
)
from .base import ChainBase, evm_transaction
from .headers import header_record
from .logs import log_record
from .vms import BLOB_FORKS, GAS_PER_BLOB

# How far back the producer looks for transactions that are not final yet (a stall longer than this counts as it).
UNFINALIZED_SCAN = 256


class Queries(ChainBase):
    """Reads of committed blocks and state (chain thread)."""

    def account_proof(self, address: bytes, slots: Sequence[int], block: HeaderRecord) -> dict[str, Any]:
        """EIP-1186 proof: account fields plus the trie nodes from the state root to the account/slots."""
        header = self._evm_header(block)
        state = self._state(header)  # raises StateUnavailable for a pruned state
        state_trie = HexaryTrie(self.db, root_hash=header.state_root)
        account_key = keccak(address)
        account_proof = state_trie.get_proof(account_key)
        addr = Address(address)
        storage_root = state._account_db._get_storage_root(addr) if hasattr(state, "_account_db") else None
        if storage_root is None:
            storage_root = BLANK_ROOT_HASH
        storage_trie = HexaryTrie(self.db, root_hash=storage_root)
        storage = []
        for slot in slots:
            key = keccak(slot.to_bytes(32, "big"))
            proof = storage_trie.get_proof(key)
            storage.append(
                {"key": slot, "value": state.get_storage(addr, slot), "proof": [rlp.encode(n) for n in proof]}
            )
        return {
            "address": address,
            "balance": state.get_balance(addr),
            "nonce": state.get_nonce(addr),
            "codeHash": state.get_code_hash(addr),
            "storageHash": storage_root,
            "accountProof": [rlp.encode(n) for n in account_proof],
            "storageProof": storage,
        }

    def pending_header(self) -> HeaderRecord:
        """The header of the block that would be built on the head now: geth's ``pending`` for calls.

        Calls and gas estimates against ``pending`` see the timestamp the next block will have, so a
        transaction that is valid only from a time on (a grant's removal receipt at its expiry) can be
        estimated on an idle chain that seals on demand and has no later block yet.
        """
        parent = self.head
        ts = max(int(time.time()), parent.timestamp + self.timestamp_step)
        vm_class = self.vm_class_for(parent.block_number + 1, ts)
        header: BlockHeaderAPI = vm_class.create_header_from_parent(
            parent, timestamp=ts, gas_limit=parent.gas_limit
        )
        return header_record(header)  # not cached: a call worker rebuilds it (CallReader._evm_header)

    def base_fee_next(self) -> int | None:
        """Base fee of the block that would be built on the head now."""
        return self._next_base_fee(self.head)

    def next_base_fee(self, block: HeaderRecord) -> int | None:
        """Base fee of a block built on ``block`` (None before London)."""
        return self._next_base_fee(self._evm_header(block))

    def _next_base_fee(self, header: BlockHeaderAPI) -> int | None:
        vm_class = self.vm_class_for(header.block_number + 1, header.timestamp + 1)
        child = vm_class.create_header_from_parent(header, timestamp=header.timestamp + 1)
        return getattr(child, "base_fee_per_gas", None)

    # ------------------------------------------------------------------------------------------- clique
    def sealer(self, block: HeaderRecord) -> bytes | None:
        """The signer who sealed ``block`` (None for the genesis block)."""
        return None if block.number == 0 else bytes(consensus.cached_signer(self._evm_header(block)))

    def clique_snapshot(self, block: HeaderRecord) -> CliqueSnapshotRecord:
        """Signers, recent sealers, pending votes and tallies after ``block``."""
        header = self._evm_header(block)
        snap = self.consensus_context.snapshot_manager.get_or_create_snapshot(
            header.block_number, header.hash
        )
        signers = tuple(sorted(snap.signers))
        recents: list[tuple[int, bytes]] = []
        current = header
        for _ in range(consensus.signer_limit(len(signers)) - 1):
            if current.block_number == 0:
                break
            recents.append((int(current.block_number), bytes(consensus.cached_signer(current))))
            current = self._header_by_hash(current.parent_hash)
        return CliqueSnapshotRecord(
            number=int(header.block_number),
            hash=header.hash,
            signers=signers,
            recents=tuple(recents),
            votes=tuple(
                CliqueVoteRecord(v.signer, v.block_number, v.subject, v.action.value == b"\xff" * 8)
                for v in sorted(snap.votes, key=lambda v: v.block_number)
            ),
            tally=tuple((a, t.action.value == b"\xff" * 8, t.votes) for a, t in snap.tallies.items()),
        )

    def clique_activity(self, blocks: int) -> CliqueActivityRecord:
        """Who sealed the last ``blocks`` blocks, and whether in turn (difficulty 2)."""
        head = self.head
        signers = self._signers(head)
        sealers: list[tuple[bytes, bool]] = []
        current = head
        while current.block_number > 0 and len(sealers) < blocks:
            sealers.append((bytes(consensus.cached_signer(current)), current.difficulty == 2))
            current = self._header_by_hash(current.parent_hash)
        recent = consensus.recent_signers(self._header_by_hash, head.hash, len(signers))
        return CliqueActivityRecord(
            head=int(head.block_number),
            finalized=int(self.finalized.block_number),
            signers=tuple(signers),
            sealers=tuple(sealers),
            recently_signed=tuple(sorted(recent)),
        )

    def traced_transactions(self, block: HeaderRecord) -> tuple[bytes, ...]:
        """The hashes of the transactions ``debug_trace*`` replays in ``block`` (a call worker replays them,
        ``CallReader.trace``); raises NotFound for the genesis block, which has no parent state to replay on."""
        if block.number == 0:
            raise NotFound("genesis is not traceable")
        return self.tx_hashes(block)

    def locate(self, tx_hash: bytes) -> tuple[HeaderRecord, int] | None:
        """The canonical block that includes ``tx_hash`` and its index there, or None."""
        found = self._locate(tx_hash)
        return None if found is None else (self._record(found[0]), found[1])

    def _replay_inputs(
        self, header: BlockHeaderAPI
    ) -> tuple[BlockHeaderAPI, tuple[SignedTransactionAPI, ...]]:
        return self._header_by_hash(header.parent_hash), tuple(self._evm_block(header).transactions)

    def raw_block(self, block_hash: bytes) -> bytes:
        """RLP of any stored block, canonical or not (peers ask for branches by hash)."""
        encoded: bytes = rlp.encode(self._evm_block(self._header_by_hash(block_hash)))
        return encoded

    def raw_transactions(self, block_hash: bytes) -> list[bytes]:
        """Raw (network-less) transactions of any stored block, canonical or not."""
        block = self._evm_block(self._header_by_hash(block_hash))
        return [tx.encode() if hasattr(tx, "encode") else rlp.encode(tx) for tx in block.transactions]

    def encode_block(self, number: int) -> bytes:
        encoded: bytes = rlp.encode(self._evm_block(self._header_by_number(number)))
        return encoded

    def raw_header(self, block: HeaderRecord) -> bytes:
        encoded: bytes = rlp.encode(self._evm_header(block))
        return encoded

    def raw_receipts(self, block: HeaderRecord) -> list[bytes]:
        receipts = self._evm_receipts(self._evm_header(block))
        return [r.encode() if hasattr(r, "encode") else rlp.encode(r) for r in receipts]

    def raw_transaction(self, tx_hash: bytes) -> bytes | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        tx = self._evm_block(header).transactions[index]
        return tx.encode() if hasattr(tx, "encode") else rlp.encode(tx)

    # ------------------------------------------------------------------------------------------ records
    def finalized_number(self) -> int:
        """The number of the block this node holds final (node/finality.py)."""
        return int(self.finalized.block_number)

    def head_total_difficulty(self) -> int:
        return self._total_difficulty(self.head.hash)

    def unfinalized_depth(self) -> int | None:
        """How many blocks the head is past the newest block that carries transactions and is not final yet (0:
        the head itself), or None when every transaction is final. Walks back at most ``UNFINALIZED_SCAN``
        blocks: a finality stall that long counts as that depth, transactions or not (the producer then keeps
        its period, as it would for them)."""
        header = self.head
        final = self.finalized.block_number
        depth = 0
        while header.block_number > final:
            if self._tx_count(header) or depth >= UNFINALIZED_SCAN:
                return depth
            header = self._header_by_hash(header.parent_hash)
            depth += 1
        return None

    def orphaned_since(self, old_head: bytes) -> list[bytes]:
        """The blocks from ``old_head`` back that are no longer canonical, oldest first (after a reorg)."""
        header = self._header_by_hash(old_head)
        orphaned: list[bytes] = []
        while header.block_number > 0 and not self._is_canonical(header):
            orphaned.append(header.hash)
            header = self._header_by_hash(header.parent_hash)
        return orphaned[::-1]

    def pooled_record(self, tx: PoolTx) -> TxRecord:
        """A pooled transaction as a record (``eth_getTransactionByHash``, ``txpool_content``)."""
        return self._tx_record(evm_transaction(tx))

    def _tx_record(
        self, tx: SignedTransactionAPI, header: BlockHeaderAPI | None = None, index: int | None = None
    ) -> TxRecord:
        type_id = getattr(tx, "type_id", None) or 0
        to = tx.to or None
        common: dict[str, Any] = {
            "hash": tx.hash,
            "type": type_id,
            "sender": self._sender(tx),
            "nonce": tx.nonce,
            "to": to,
            "value": tx.value,
            "gas": tx.gas,
            "data": tx.data,
            "block_hash": header.hash if header is not None else None,
            "block_number": header.block_number if header is not None else None,
            "index": index,
            "base_fee": getattr(header, "base_fee_per_gas", None) if header is not None else None,
            "block_timestamp": header.timestamp if header is not None else None,
        }
        if type_id == 0:
            v = cast("LegacyTransactionFieldsAPI", tx).v  # type 0 is a legacy transaction, signed with v
            chain_id = (v - 35) // 2 if v >= 35 else None
            return TxRecord(v=v, r=tx.r, s=tx.s, chain_id=chain_id, gas_price=tx.gas_price, **common)
        access_list = tuple(
            AccessListEntry(bytes(a), tuple(int(k) for k in keys_)) for a, keys_ in tx.access_list
        )
        fields: dict[str, Any] = {
            "v": tx.y_parity,
            "r": tx.r,
            "s": tx.s,
            "chain_id": tx.chain_id,
            "access_list": access_list,
        }
        if type_id == 1:
            fields["gas_price"] = tx.gas_price
        else:
            fields["max_fee"] = tx.max_fee_per_gas
            fields["max_priority_fee"] = tx.max_priority_fee_per_gas
        if type_id == 3:
            fields["max_fee_per_blob_gas"] = tx.max_fee_per_blob_gas
            fields["blob_versioned_hashes"] = tuple(bytes(h) for h in tx.blob_versioned_hashes)
        if type_id == 4:
            fields["authorizations"] = tuple(
                Authorization(a.chain_id, bytes(a.address), a.nonce, a.y_parity, a.r, a.s)
                for a in tx.authorization_list
            )
        return TxRecord(**fields, **common)

    def block_record(self, block_ref: HeaderRecord, full: bool = True) -> BlockRecord:
        header = self._evm_header(block_ref)
        block = self._evm_block(header)
        txs = tuple(self._tx_record(tx, header, i) for i, tx in enumerate(block.transactions)) if full else ()
        withdrawals = None
        if hasattr(block, "withdrawals"):
            withdrawals = tuple(
                {
                    "index": w.index,
                    "validatorIndex": w.validator_index,
                    "address": w.address,
                    "amount": w.amount,
                }
                for w in block.withdrawals
            )
        return BlockRecord(
            header=self._record(header),
            size=len(rlp.encode(block)),
            transactions=txs,
            uncles=tuple(u.hash for u in block.uncles),
            withdrawals=withdrawals,
        )

    def tx_hashes(self, block: HeaderRecord) -> tuple[bytes, ...]:
        return tuple(tx.hash for tx in self._evm_block(self._evm_header(block)).transactions)

    def tx_count(self, block: HeaderRecord) -> int:
        return self._tx_count(self._evm_header(block))

    def _tx_count(self, header: BlockHeaderAPI) -> int:
        return len(self._evm_block(header).transactions)

    def _locate(self, tx_hash: bytes) -> tuple[BlockHeaderAPI, int] | None:
        try:
            number, index = self.chaindb.get_transaction_index(Hash32(tx_hash))
        except (TransactionNotFound, KeyError):
            return None
        if number > self.head.block_number:
            return None
        header = self._header_by_number(number)
        # py-evm never removes the lookups of blocks a reorganisation made non-canonical: check the hash.
        txs = self._evm_block(header).transactions
        if index >= len(txs) or txs[index].hash != tx_hash:
            return None
        return header, index

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        return self._tx_record(self._evm_block(header).transactions[index], header, index)

    def transaction_by_index(self, block: HeaderRecord, index: int) -> TxRecord | None:
        header = self._evm_header(block)
        txs = self._evm_block(header).transactions
        if index >= len(txs):
            return None
        return self._tx_record(txs[index], header, index)

    def block_receipts(self, block: HeaderRecord) -> tuple[ReceiptRecord, ...]:
        return self._block_receipts(self._evm_header(block))

    def _block_receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptRecord, ...]:
        cached = self._receipt_records.get(header.hash)
        if cached is None:
            cached = self._receipt_records_of(header)
            self._receipt_records.put(header.hash, cached)
        return cached

    def _receipt_records_of(self, header: BlockHeaderAPI) -> tuple[ReceiptRecord, ...]:
        block = self._evm_block(header)
        receipts = self._evm_receipts(header)
        fork = self.genesis.schedule.fork_at(header.block_number, header.timestamp)
        blob_price = None
        if fork in BLOB_FORKS:
            blob_price = fake_exponential(1, header.excess_blob_gas, BLOB_FORKS[fork])
        base_fee = getattr(header, "base_fee_per_gas", None)
        out: list[ReceiptRecord] = []
        previous = 0
        log_index = 0
        for i, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            sender = self._sender(tx)
            type_id = getattr(tx, "type_id", None) or 0
            record = self._tx_record(tx, header, i)
            logs = []
            for entry in receipt.logs:
                logs.append(log_record(header, tx.hash, i, log_index, entry))
                log_index += 1
            state_root = receipt.state_root
            status: int | None
            root: bytes | None = None
            if len(state_root) == 32:
                status, root = None, state_root
            else:
                status = 1 if state_root == b"\x01" else 0
            out.append(
                ReceiptRecord(
                    tx_hash=tx.hash,
                    tx_index=i,
                    block_hash=header.hash,
                    block_number=header.block_number,
                    sender=sender,
                    to=tx.to or None,
                    type=type_id,
                    cumulative_gas_used=receipt.gas_used,
                    gas_used=receipt.gas_used - previous,
                    effective_gas_price=record.effective_gas_price(base_fee),
                    contract_address=contract_address(sender, tx.nonce) if not tx.to else None,
                    logs=tuple(logs),
                    bloom=receipt.bloom,
                    status=status,
                    root=root,
                    blob_gas_used=len(tx.blob_versioned_hashes) * GAS_PER_BLOB if type_id == 3 else None,
                    blob_gas_price=blob_price if type_id == 3 else None,
                )
            )
            previous = receipt.gas_used
        return tuple(out)

    def receipt(self, tx_hash: bytes) -> ReceiptRecord | None:
        found = self._locate(tx_hash)
        if found is None:
            return None
        header, index = found
        return self._block_receipts(header)[index]

    def blob_base_fee(self, block: HeaderRecord) -> int:
        """The blob base fee of a block built on ``block`` (0 before Cancun)."""
        header = self._evm_header(block)
        fork = self.genesis.schedule.fork_at(header.block_number + 1, header.timestamp + 1)
        if fork not in BLOB_FORKS:
            return 0
        vm_class = self._vm_classes[fork]
        child = vm_class.create_header_from_parent(header, timestamp=header.timestamp + 1)
        return fake_exponential(1, child.excess_blob_gas, BLOB_FORKS[fork])

    def header_blob_base_fee(self, block: HeaderRecord) -> int | None:
        fork = self.genesis.schedule.fork_at(block.number, block.timestamp)
        if fork not in BLOB_FORKS:
            return None
        return fake_exponential(1, block.excess_blob_gas or 0, BLOB_FORKS[fork])

    def precompiles(self, fork: str) -> tuple[bytes, ...]:
        """Addresses of the precompiled contracts ``fork`` has (``eth_config``)."""
        computation_class = self._vm_classes[fork].get_state_class().computation_class
        return tuple(sorted(bytes(a) for a in computation_class.get_precompiles()))

    def blob_limits(self, block: HeaderRecord) -> int | None:
        fork = self.genesis.schedule.fork_at(block.number, block.timestamp)
        return {"cancun": 6 * GAS_PER_BLOB, "prague": 9 * GAS_PER_BLOB}.get(fork)
