"""Records -> JSON shaped exactly like geth's responses (quantities minimal hex, data full hex)."""

from __future__ import annotations

from typing import Any

from ..records import BlockRecord, HeaderRecord, LogRecord, PoolTx, ReceiptRecord, TxRecord


def q(value: int) -> str:
    return hex(value)


def d(value: bytes) -> str:
    return "0x" + value.hex()


def addr(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def h256(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def bloom(value: int) -> str:
    return "0x" + value.to_bytes(256, "big").hex()


def header(h: HeaderRecord, size: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "parentHash": d(h.parent_hash),
        "sha3Uncles": d(h.uncles_hash),
        "miner": d(h.coinbase),
        "stateRoot": d(h.state_root),
        "transactionsRoot": d(h.transactions_root),
        "receiptsRoot": d(h.receipts_root),
        "logsBloom": bloom(h.bloom),
        "difficulty": q(h.difficulty),
        "number": q(h.number),
        "gasLimit": q(h.gas_limit),
        "gasUsed": q(h.gas_used),
        "timestamp": q(h.timestamp),
        "extraData": d(h.extra_data),
        "mixHash": d(h.mix_hash),
        "nonce": d(h.nonce),
        "hash": d(h.hash),
    }
    if h.base_fee is not None:
        out["baseFeePerGas"] = q(h.base_fee)
    if h.withdrawals_root is not None:
        out["withdrawalsRoot"] = d(h.withdrawals_root)
    if h.blob_gas_used is not None:
        out["blobGasUsed"] = q(h.blob_gas_used)
    if h.excess_blob_gas is not None:
        out["excessBlobGas"] = q(h.excess_blob_gas)
    if h.parent_beacon_block_root is not None:
        out["parentBeaconBlockRoot"] = d(h.parent_beacon_block_root)
    if h.requests_hash is not None:
        out["requestsHash"] = d(h.requests_hash)
    if size is not None:
        out["size"] = q(size)
    return out


def block(b: BlockRecord, full: bool, tx_hashes: tuple[bytes, ...] = ()) -> dict[str, Any]:
    out = header(b.header, b.size)
    if full:
        out["transactions"] = [transaction(t) for t in b.transactions]
    else:
        out["transactions"] = [d(x) for x in tx_hashes]
    out["uncles"] = [d(u) for u in b.uncles]
    if b.withdrawals is not None:
        out["withdrawals"] = [
            {
                "index": q(w["index"]),
                "validatorIndex": q(w["validatorIndex"]),
                "address": d(w["address"]),
                "amount": q(w["amount"]),
            }
            for w in b.withdrawals
        ]
    return out


def transaction(t: TxRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "blockHash": addr(t.block_hash),
        "blockNumber": None if t.block_number is None else q(t.block_number),
        "blockTimestamp": None if t.block_timestamp is None else q(t.block_timestamp),
        "from": d(t.sender),
        "gas": q(t.gas),
    }
    if t.type >= 2:
        assert t.max_fee is not None and t.max_priority_fee is not None
        if t.block_hash is not None and t.base_fee is not None:
            out["gasPrice"] = q(t.effective_gas_price(t.base_fee))
        else:
            out["gasPrice"] = q(t.max_fee)
        out["maxFeePerGas"] = q(t.max_fee)
        out["maxPriorityFeePerGas"] = q(t.max_priority_fee)
    else:
        out["gasPrice"] = q(t.gas_price or 0)
    if t.type == 3:
        out["maxFeePerBlobGas"] = q(t.max_fee_per_blob_gas or 0)
    out.update(
        {
            "hash": d(t.hash),
            "input": d(t.data),
            "nonce": q(t.nonce),
            "to": addr(t.to),
            "transactionIndex": None if t.index is None else q(t.index),
            "value": q(t.value),
            "type": q(t.type),
        }
    )
    if t.access_list is not None:
        out["accessList"] = [
            {"address": d(e.address), "storageKeys": [h256(k) for k in e.storage_keys]} for e in t.access_list
        ]
    if t.chain_id is not None:
        out["chainId"] = q(t.chain_id)
    if t.blob_versioned_hashes is not None:
        out["blobVersionedHashes"] = [d(x) for x in t.blob_versioned_hashes]
    if t.authorizations is not None:
        out["authorizationList"] = [
            {
                "chainId": q(a.chain_id),
                "address": d(a.address),
                "nonce": q(a.nonce),
                "yParity": q(a.y_parity),
                "r": q(a.r),
                "s": q(a.s),
            }
            for a in t.authorizations
        ]
    out["v"] = q(t.v)
    out["r"] = q(t.r)
    out["s"] = q(t.s)
    if t.type != 0:
        out["yParity"] = q(t.v)
    return out


def log(entry: LogRecord) -> dict[str, Any]:
    return {
        "address": d(entry.address),
        "topics": [d(t) for t in entry.topics],
        "data": d(entry.data),
        "blockNumber": q(entry.block_number),
        "transactionHash": d(entry.tx_hash),
        "transactionIndex": q(entry.tx_index),
        "blockHash": d(entry.block_hash),
        "blockTimestamp": q(entry.block_timestamp),
        "logIndex": q(entry.log_index),
        "removed": entry.removed,
    }


def receipt(r: ReceiptRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.blob_gas_used is not None:
        out["blobGasPrice"] = q(r.blob_gas_price or 0)
        out["blobGasUsed"] = q(r.blob_gas_used)
    out.update(
        {
            "blockHash": d(r.block_hash),
            "blockNumber": q(r.block_number),
            "contractAddress": addr(r.contract_address),
            "cumulativeGasUsed": q(r.cumulative_gas_used),
            "effectiveGasPrice": q(r.effective_gas_price),
            "from": d(r.sender),
            "gasUsed": q(r.gas_used),
            "logs": [log(x) for x in r.logs],
            "logsBloom": bloom(r.bloom),
        }
    )
    if r.status is not None:
        out["status"] = q(r.status)
    else:
        out["root"] = d(r.root or b"")
    out.update(
        {
            "to": addr(r.to),
            "transactionHash": d(r.tx_hash),
            "transactionIndex": q(r.tx_index),
            "type": q(r.type),
        }
    )
    return out


def pool_tx(p: PoolTx, record: TxRecord) -> dict[str, Any]:
    return transaction(record)
