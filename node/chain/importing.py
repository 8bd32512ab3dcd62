"""Import and validation: raw transactions checked for the pool, blocks from peers or chain files checked
(header, seal and signer before execution) and committed, with EIP-3436 fork choice under finality."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI
from eth.constants import GENESIS_PARENT_HASH
from eth.exceptions import VMError
from eth_hash.auto import keccak
from eth_keys import keys
from eth_typing import Address, Hash32
from eth_utils import ValidationError

from .. import consensus, trie_nodes
from ..errors import (
    AccountNotAllowed,
    ConflictsWithFinality,
    InvalidBlock,
    NodeError,
    NotFound,
    TransactionRejected,
)
from ..records import (
    BlockImport,
    PoolTx,
)
from .base import ChainBase
from .calldata_floor import data_floor_gas, floor_error
from .chaindb import NodeChainDB
from .execution import geth_reason
from .initcode import initcode_error, intrinsic_gas
from .vms import GAS_PER_BLOB, NODE_FAULTS


class Importing(ChainBase):
    """Validation of what comes from outside (chain thread)."""

    def decode_transaction(self, raw: bytes) -> PoolTx:
        """Decode and statically validate a raw transaction for the txpool (chain thread)."""
        return self.admissible(self.prepare_transaction(raw))

    def prepare_transaction(self, raw: bytes) -> PreparedTx:
        """``decode_transaction``'s work, sender recovery included, on any thread: it reads no state, only
        the fork the next block will have (``admissible`` checks it has not changed since)."""
        fork = self._next_fork()
        return PreparedTx(fork, _decode_for_pool(self._vm_classes[fork], fork, self.genesis.chain_id, raw))

    def admissible(self, prepared: PreparedTx) -> PoolTx:
        """The pool record of a prepared transaction (chain thread); decoded again if the fork changed."""
        tx = (
            prepared.tx
            if prepared.fork == self._next_fork()
            else self.prepare_transaction(prepared.tx.raw).tx
        )
        self._senders.put(tx.hash, tx.sender)
        return tx

    def _next_fork(self) -> str:
        """The fork of the next block (a transaction is decoded for it)."""
        head = self.head  # one read: the chain thread may replace it meanwhile
        timestamp = max(int(time.time()), head.timestamp + self.timestamp_step)
        return self.genesis.schedule.fork_at(head.block_number + 1, timestamp)

    def _descends_from_finalized(self, parent: BlockHeaderAPI) -> bool:
        final = self.finalized
        if parent.block_number < final.block_number:
            return False
        current = parent
        while not self._is_canonical(current):
            current = self._header_by_hash(current.parent_hash)
        return current.block_number >= final.block_number

    def _prefer_over_head(self, header: BlockHeaderAPI) -> bool:
        """Does ``header`` beat the current head (Clique chains)? First the branch's latest justified checkpoint
        (FFG's fork choice: see finality.py), then EIP-3436."""
        head = self.head

        def key(h: BlockHeaderAPI) -> tuple[int, int, int, int, int]:
            parent = self._header_by_hash(h.parent_hash) if h.block_number else h
            justified = self.checkpoints(h).justified
            return (
                justified,
                *consensus.fork_choice_key(h, self._total_difficulty(h.hash), self._signers(parent)),
            )

        return key(header) > key(head)

    def _choose_head(
        self, header: BlockHeaderAPI, head: BlockHeaderAPI, new_canonical: tuple[Hash32, ...]
    ) -> tuple[Hash32, ...]:
        """Apply fork choice after py-evm persisted ``header`` (``new_canonical``: the hashes its score rule
        made canonical); returns the hashes that are canonical now and were not."""
        if self._prefer_over_head(header):
            return new_canonical or self._canonicalize(header)
        if new_canonical:  # more difficulty, but the head's branch holds a later justified checkpoint
            self._canonicalize(head)
        return ()

    def _canonicalize(self, header: BlockHeaderAPI) -> tuple[Hash32, ...]:
        """Make ``header`` the head where fork choice and py-evm's score rule differ."""
        with self.chaindb.db.atomic_batch() as db:
            new, old = NodeChainDB._set_as_canonical_chain_head(db, header, GENESIS_PARENT_HASH)
            for h in old:
                for tx_hash in NodeChainDB._get_block_transaction_hashes(db, h):
                    NodeChainDB._remove_transaction_from_canonical_chain(db, tx_hash)
            for h in new:
                for i, tx_hash in enumerate(NodeChainDB._get_block_transaction_hashes(db, h)):
                    NodeChainDB._add_transaction_to_canonical_chain(db, tx_hash, h, i)
        return tuple(h.hash for h in new)

    def import_raw(self, raw: bytes) -> BlockImport:
        """Decode and import one block from a peer (``import_block``); raises InvalidBlock when it does not
        decode, reports a refusal (any NodeError of the import) in the result."""
        block = self.decode_block(raw)
        number, block_hash = int(block.number), bytes(block.hash)
        if self.has_block(block_hash):
            return BlockImport(number, block_hash, "known")
        if not self.has_block(block.header.parent_hash):
            return BlockImport(number, block_hash, "unknown parent")
        try:
            self.import_block(block)
        except NodeError as exc:
            return BlockImport(number, block_hash, "refused", error=exc)
        return BlockImport(number, block_hash, "imported", tuple(tx.hash for tx in block.transactions))

    def import_block(self, block: BlockAPI) -> bool:
        """Execute and validate a block from elsewhere; commit it. Returns True if it became the head."""
        try:
            return self._import_block(block)
        except BaseException:
            self.db.discard()
            raise

    def _import_block(self, block: BlockAPI) -> bool:
        header = block.header
        number = header.block_number
        if self.chaindb.header_exists(header.hash):
            return False
        try:
            parent = self._header_by_hash(header.parent_hash)
        except NotFound as exc:
            raise InvalidBlock("unknown parent", number) from exc
        if not self._descends_from_finalized(parent):
            raise ConflictsWithFinality(
                f"conflicts with finalized block #{self.finalized.block_number}", number
            )
        # Every check that needs no execution comes first: header fields against the parent (gas limit within
        # its bounds, timestamp, number), the Clique seal, the signer's right to seal at the parent's snapshot and
        # the recently-signed rule. A block from a peer that is not a signer is never executed.
        try:
            self._validate_header_chain(header, parent)
        except ValidationError as exc:
            raise InvalidBlock(str(exc), number) from exc
        # Blocks are packed by gas used (as geth's are), so declared gas limits may add up to more than the block's;
        # but every transaction needs its own limit within the block's, and uses at least its intrinsic gas.
        if any(tx.gas > header.gas_limit for tx in block.transactions):
            raise InvalidBlock("a transaction asks for more gas than the block's limit", number)
        vm_class = self.vm_class_for(number, header.timestamp)
        if sum(intrinsic_gas(vm_class, tx) for tx in block.transactions) > header.gas_limit:
            raise InvalidBlock("transactions need more intrinsic gas than the block's limit", number)
        budget = self.genesis.block_gas_budget(header.gas_limit)
        if self.genesis.zero_base_fee and header.gas_used > budget:
            # Valid Ethereum, but on a zero-base-fee chain it would raise the base fee to 1 wei for good and end
            # free gas for every permitted account: a pamchain rule, like permissioning, that all validators share.
            raise InvalidBlock(
                f"gas used {header.gas_used} above the gas target {budget} of a zero-base-fee chain",
                number,
            )
        for tx in block.transactions:
            try:
                sender = self._sender(tx)
            except Exception as exc:
                raise InvalidBlock(f"invalid transaction signature: {short(exc)}", number) from exc
            if not self._is_allowed(sender, parent):
                raise InvalidBlock(str(AccountNotAllowed(sender, tx.hash)), number)
        base = vm_class.create_header_from_parent(
            parent, timestamp=header.timestamp, gas_limit=header.gas_limit
        )
        vm = self._vm(base.copy(gas_used=header.gas_used), vm_class)
        try:
            try:
                result = vm.import_block(block)
            except (*NODE_FAULTS, ValidationError, VMError):  # the node's fault; or refused below, as invalid
                raise
            except Exception as exc:  # the block's own doing (a builder that drops such transactions: vms.py)
                raise InvalidBlock(f"executing the block raised {type(exc).__name__}: {exc}", number) from exc
            imported = result.block
            if imported.header != header:
                raise InvalidBlock(_header_mismatch(imported.header, header), number)
            receipts = vm.__dict__.get("_built_receipts")  # set with the block's receipts row (vms.py)
            if receipts is None:  # stock py-evm VMs (the differential test's reference): the receipt trie
                receipts = imported.get_receipts(self.chaindb)
            head = self.head
            new_canonical, _old = self.chaindb.persist_block(imported)  # py-evm's rule: the higher score
            if self.clique and self.seal_check:  # foreign chains keep py-evm's rule
                new_canonical = self._choose_head(imported.header, head, new_canonical)
        except (ValidationError, VMError) as exc:  # VMError: py-evm refusing a transaction outside its VM run
            raise InvalidBlock(str(exc), number) from exc
        self._commit(imported, receipts)
        return bool(new_canonical)

    def decode_block(self, payload: bytes | list[Any]) -> BlockAPI:
        """Decode one RLP block; the VM (header shape) is chosen by its number and timestamp."""
        items = rlp.decode(payload) if isinstance(payload, bytes) else payload
        try:
            number = rlp.sedes.big_endian_int.deserialize(items[0][8])
            timestamp = rlp.sedes.big_endian_int.deserialize(items[0][11])
        except (IndexError, TypeError, rlp.exceptions.DeserializationError) as exc:
            raise InvalidBlock(f"malformed block RLP: {exc}") from exc
        block_class = self.vm_class_for(number, timestamp).get_block_class()
        try:
            block: BlockAPI = block_class.deserialize(items)
        except rlp.exceptions.DeserializationError as exc:
            raise InvalidBlock(f"malformed block RLP: {exc}", number) from exc
        return block


@dataclass(frozen=True)
class PreparedTx:
    """A raw transaction decoded and checked for the pool off the chain thread, and the fork it was read for."""

    fork: str
    tx: PoolTx


def _decode_for_pool(vm_class: Any, fork: str, chain_id: int, raw: bytes) -> PoolTx:
    """Decode and statically validate a raw transaction (no state involved; any thread)."""
    builder = vm_class.get_transaction_builder()
    try:
        if raw and raw[0] == 3:
            raw = _strip_blob_sidecar(raw)
        tx = builder.decode(raw)
    except Exception as exc:
        raise TransactionRejected(f"invalid transaction: {short(exc)}") from exc
    try:
        sender = checked_sender(tx, raw)
    except Exception as exc:
        raise TransactionRejected("invalid transaction: invalid sender signature") from exc
    if tx.s > _SECP256K1_HALF_N and fork != "frontier":
        # EIP-2 (Homestead on): the VM refuses high-s signatures, so the pool must too; admitting one made
        # the next block fail and fall back to probing transactions one by one.
        raise TransactionRejected("invalid transaction v, r, s values")
    tx_chain_id = getattr(tx, "chain_id", None)
    if tx_chain_id is not None and tx_chain_id != chain_id:
        raise TransactionRejected(f"invalid chain id: have {tx_chain_id} want {chain_id}")
    if tx_chain_id is None and getattr(tx, "type_id", None) is None and tx.v in (27, 28):
        # pre-EIP-155 transactions replay across networks; geth refuses them over RPC by default too.
        raise TransactionRejected("only replay-protected (EIP-155) transactions allowed over RPC")
    try:
        tx.validate()
    except Exception as exc:
        raise TransactionRejected(geth_reason(str(exc))) from exc
    refusal = initcode_error(vm_class, tx, pool=True)
    if refusal:
        raise TransactionRejected(refusal)
    intrinsic = intrinsic_gas(vm_class, tx)  # EIP-3860's initcode words counted, as geth counts them
    if tx.gas < intrinsic:
        raise TransactionRejected(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic}")
    floor = data_floor_gas(vm_class, tx.data)
    if tx.gas < floor:
        raise TransactionRejected(floor_error(tx.gas, floor))
    type_id = getattr(tx, "type_id", None) or 0
    fee_cap = tx.max_fee_per_gas if type_id >= 2 else tx.gas_price
    tip_cap = tx.max_priority_fee_per_gas if type_id >= 2 else tx.gas_price
    cost = tx.value + tx.gas * fee_cap
    if type_id == 3:
        cost += len(tx.blob_versioned_hashes) * GAS_PER_BLOB * tx.max_fee_per_blob_gas
    return PoolTx(
        hash=tx.hash,
        sender=sender,
        nonce=tx.nonce,
        gas=tx.gas,
        fee_cap=fee_cap,
        tip_cap=tip_cap,
        cost=cost,
        size=len(raw),
        raw=raw,
        type=type_id,
        evm=tx,
    )


def checked_sender(tx: SignedTransactionAPI, raw: bytes | None = None) -> Address:
    """``tx.check_signature_validity()`` then ``tx.sender``, with one public-key recovery instead of two.

    For typed transactions this is py-evm's ``validate_transaction_signature`` and
    ``extract_transaction_sender`` merged (a fifth of admission time went to the second recovery); legacy
    transactions keep py-evm's own path (their ``v`` carries the chain id). Given the canonical ``raw`` bytes
    (what ``tx`` was decoded from), the signed message and the hash are cut from them instead of re-encoding
    the transaction, and the sender is remembered on ``tx`` (py-evm would recover it again when executing).
    """
    if getattr(tx, "type_id", None) is None:
        tx.check_signature_validity()
        return tx.sender
    if raw is not None:
        # A typed transaction is type || rlp([fields..., y_parity, r, s]); it signs type || rlp([fields...]).
        message = raw[:1] + trie_nodes.encode(trie_nodes.decode(raw[1:])[:-3])
        tx.__dict__["hash"] = keccak(raw)  # cached_property: what ``tx.hash`` computes from ``tx.encode()``
    else:
        message = tx.get_message_for_signing()
    signature = keys.Signature(vrs=(tx.y_parity, tx.r, tx.s))
    public_key = signature.recover_public_key_from_msg(message)
    # A key recovered from a signature always verifies it, except that libsecp256k1 (coincurve) refuses a
    # high-s signature: checking only those keeps py-evm's outcome at a fraction of the cost.
    if tx.s > _SECP256K1_HALF_N and not signature.verify_msg(message, public_key):
        raise ValidationError("Invalid Signature")
    sender = Address(public_key.to_canonical_address())
    tx.__dict__["sender"] = sender  # cached_property ``sender``
    return sender


_SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2


def short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


def _header_mismatch(ours: BlockHeaderAPI, theirs: BlockHeaderAPI) -> str:
    diffs = [
        f"{name}: computed {getattr(ours, name)!r}, block has {getattr(theirs, name)!r}"
        for name in ours._meta.field_names  # type: ignore[attr-defined]
        if getattr(ours, name) != getattr(theirs, name)
    ]
    return "block does not match its execution: " + "; ".join(diffs[:3])


def _strip_blob_sidecar(raw: bytes) -> bytes:
    """Network-form blob transactions wrap ``[tx, blobs, commitments, proofs]``; keep only the tx."""
    items = rlp.decode(raw[1:])
    if items and isinstance(items[0], list):
        tx: bytes = rlp.encode(items[0])
        return b"\x03" + tx
    return raw
