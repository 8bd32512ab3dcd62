"""Frozen records the node's layers exchange, so that only the chain layer handles py-evm objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import NodeError


@dataclass(frozen=True)
class HeaderRecord:
    number: int
    hash: bytes
    parent_hash: bytes
    uncles_hash: bytes
    coinbase: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    bloom: int
    difficulty: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes
    base_fee: int | None = None
    withdrawals_root: bytes | None = None
    blob_gas_used: int | None = None
    excess_blob_gas: int | None = None
    parent_beacon_block_root: bytes | None = None
    requests_hash: bytes | None = None


@dataclass(frozen=True)
class AccessListEntry:
    address: bytes
    storage_keys: tuple[int, ...]


@dataclass(frozen=True)
class Authorization:
    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass(frozen=True)
class TxRecord:
    """A signed transaction; the location fields are set when it is part of a block."""

    hash: bytes
    type: int
    sender: bytes
    nonce: int
    to: bytes | None
    value: int
    gas: int
    data: bytes
    v: int
    r: int
    s: int
    chain_id: int | None
    gas_price: int | None = None  # legacy and 2930
    max_fee: int | None = None  # 1559 and later
    max_priority_fee: int | None = None
    access_list: tuple[AccessListEntry, ...] | None = None
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: tuple[bytes, ...] | None = None
    authorizations: tuple[Authorization, ...] | None = None
    block_hash: bytes | None = None
    block_number: int | None = None
    index: int | None = None
    base_fee: int | None = None  # of the including block, for ``gasPrice`` of 1559 transactions
    block_timestamp: int | None = None  # of the including block (execution-apis ``blockTimestamp``)

    @property
    def fee_cap(self) -> int:
        return self.max_fee if self.max_fee is not None else (self.gas_price or 0)

    @property
    def tip_cap(self) -> int:
        return self.max_priority_fee if self.max_priority_fee is not None else (self.gas_price or 0)

    def effective_gas_price(self, base_fee: int | None) -> int:
        if base_fee is None or self.max_fee is None:
            return self.gas_price or 0
        return min(self.max_fee, base_fee + self.tip_cap)


@dataclass(frozen=True)
class LogRecord:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    block_hash: bytes
    tx_hash: bytes
    tx_index: int
    log_index: int
    block_timestamp: int = 0
    removed: bool = False


@dataclass(frozen=True)
class ReceiptRecord:
    tx_hash: bytes
    tx_index: int
    block_hash: bytes
    block_number: int
    sender: bytes
    to: bytes | None
    type: int
    cumulative_gas_used: int
    gas_used: int
    effective_gas_price: int
    contract_address: bytes | None
    logs: tuple[LogRecord, ...]
    bloom: int
    status: int | None  # None before Byzantium, when ``root`` is set instead
    root: bytes | None = None
    blob_gas_used: int | None = None
    blob_gas_price: int | None = None


@dataclass(frozen=True)
class BlockRecord:
    header: HeaderRecord
    size: int
    transactions: tuple[TxRecord, ...]
    uncles: tuple[bytes, ...] = ()
    withdrawals: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class PoolTx:
    """A decoded, signature-checked transaction as the txpool needs it. ``evm`` is the chain layer's decoded
    transaction, carried to block building so it is not decoded twice: typed ``object`` so that nothing above
    the chain layer can use it (``Chain.evm_transaction`` opens it; the boundary guards check the rest)."""

    hash: bytes
    sender: bytes
    nonce: int
    gas: int
    fee_cap: int
    tip_cap: int
    cost: int  # value + gas * fee_cap (+ blob gas * blob fee cap): the balance it needs in the worst case
    size: int
    raw: bytes
    type: int
    evm: object


@dataclass(frozen=True)
class BlockImport:
    """What importing one block from a peer came to (``Chain.import_raw``)."""

    number: int
    hash: bytes
    status: Literal["imported", "known", "unknown parent", "refused"]
    tx_hashes: tuple[bytes, ...] = ()  # of an imported block: the pool drops them
    error: NodeError | None = None  # why it was refused


@dataclass(frozen=True)
class CallRequest:
    """An ``eth_call`` / ``eth_estimateGas`` request, already decoded."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee: int | None = None
    max_priority_fee: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    access_list: tuple[AccessListEntry, ...] = ()
    blob_versioned_hashes: tuple[bytes, ...] = ()
    max_fee_per_blob_gas: int | None = None


@dataclass(frozen=True)
class SealedBlock:
    """What the producer reports after a block is durable."""

    number: int
    hash: bytes
    timestamp: int
    tx_hashes: tuple[bytes, ...]
    dropped: tuple[tuple[bytes, str], ...] = field(default=())
    seconds: float = 0.0  # building, sealing and committing it took this long (metrics)


@dataclass(frozen=True)
class CliqueVoteRecord:
    """A pending Clique vote: ``signer`` voted in block ``block_number`` to add/drop ``subject``."""

    signer: bytes
    block_number: int
    subject: bytes
    authorize: bool


@dataclass(frozen=True)
class CliqueSnapshotRecord:
    """The Clique state after a block (geth's ``clique_getSnapshot``)."""

    number: int
    hash: bytes
    signers: tuple[bytes, ...]  # sorted
    recents: tuple[tuple[int, bytes], ...]  # (block number, sealer), newest first
    votes: tuple[CliqueVoteRecord, ...]  # by block number
    tally: tuple[tuple[bytes, bool, int], ...]  # (subject, authorize, votes)


@dataclass(frozen=True)
class CliqueActivityRecord:
    """Who sealed the last blocks (geth's ``clique_status``), with the finalized block."""

    head: int
    finalized: int
    signers: tuple[bytes, ...]
    sealers: tuple[tuple[bytes, bool], ...]  # (sealer, in turn) of each block, newest first
    recently_signed: tuple[bytes, ...]  # sorted
