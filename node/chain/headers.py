"""Headers across the chain layer's boundary: a py-evm header to the ``HeaderRecord`` that leaves it, and back."""

from __future__ import annotations

from typing import Any

from eth.abc import BlockHeaderAPI

from ..errors import NotFound
from ..records import HeaderRecord

# HeaderRecord field -> py-evm header field, where the names differ.
_EVM_NAMES = {
    "number": "block_number",
    "transactions_root": "transaction_root",
    "receipts_root": "receipt_root",
    "base_fee": "base_fee_per_gas",
}


def header_record(header: BlockHeaderAPI) -> HeaderRecord:
    return HeaderRecord(
        number=header.block_number,
        hash=header.hash,
        parent_hash=header.parent_hash,
        uncles_hash=header.uncles_hash,
        coinbase=header.coinbase,
        state_root=header.state_root,
        transactions_root=header.transaction_root,
        receipts_root=header.receipt_root,
        bloom=header.bloom,
        difficulty=header.difficulty,
        gas_limit=header.gas_limit,
        gas_used=header.gas_used,
        timestamp=header.timestamp,
        extra_data=header.extra_data,
        mix_hash=header.mix_hash,
        nonce=header.nonce,
        base_fee=getattr(header, "base_fee_per_gas", None),
        withdrawals_root=getattr(header, "withdrawals_root", None),
        blob_gas_used=getattr(header, "blob_gas_used", None),
        excess_blob_gas=getattr(header, "excess_blob_gas", None),
        parent_beacon_block_root=getattr(header, "parent_beacon_block_root", None),
        requests_hash=getattr(header, "requests_hash", None),
    )


def evm_header(block: HeaderRecord, vm_class: Any) -> BlockHeaderAPI:
    """The py-evm header ``block`` was made from, rebuilt from its fields as ``vm_class``'s header class.

    A ``CallReader`` rebuilds rather than reads: it holds no chain cache (another thread's) and a pending
    block's header (``Chain.pending_header``) is in no store. The hash proves the rebuild is the same header.
    """
    header_class = dict(vm_class.get_block_class()._meta.fields)["header"]
    names = header_class._meta.field_names
    fields: dict[str, Any] = {}
    for name in HeaderRecord.__dataclass_fields__:
        if name == "hash":
            continue
        evm_name = _EVM_NAMES.get(name, name)
        if evm_name in names:
            fields[evm_name] = getattr(block, name)
    header: BlockHeaderAPI = header_class(**fields)
    if header.hash != block.hash:
        raise NotFound(f"block 0x{block.hash.hex()} does not match its fields")
    return header
