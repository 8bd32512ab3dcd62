"""Chain integrity for auditors: parent links, header hashes, Clique seals against the signer set, and the
transaction and receipt roots, recomputed from what any node serves over JSON-RPC."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import rlp
from eth_utils import keccak, to_checksum_address
from pamchain.sdk.chain.clique import (
    DEFAULT_EPOCH,
    EMPTY_UNCLES,
    HEADER_FIELDS,
    BadHeader,
    Snapshot,
    checkpoint_signers,
    header_fields,
    header_hash,
    hex_bytes,
    hex_int,
    seal_hash,
    seal_signer,
)
from pamchain.sdk.chain.jsonrpc import ChainRpc
from trie import HexaryTrie


@dataclass(frozen=True, slots=True)
class BadBlock:
    number: int
    hash: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """What :func:`verify_chain` found: ``bad`` is the first block that fails a check, or None."""

    checked: int
    head: int
    genesis_hash: str
    signers: tuple[str, ...]
    bad: BadBlock | None

    @property
    def ok(self) -> bool:
        return self.bad is None


def _access_list(items: Any) -> list[Any]:
    return [
        [hex_bytes(entry["address"]), [hex_bytes(k) for k in entry.get("storageKeys", [])]]
        for entry in items or []
    ]


def encode_transaction(tx: dict[str, Any]) -> bytes:
    """A transaction's canonical encoding (what the transactions trie holds), rebuilt from its JSON."""

    kind = hex_int(tx.get("type", "0x0"))
    to = hex_bytes(tx.get("to"))
    sig = [hex_int(tx.get("yParity", tx.get("v"))), hex_int(tx["r"]), hex_int(tx["s"])]
    if kind == 0:
        return bytes(
            rlp.encode(
                [
                    hex_int(tx["nonce"]),
                    hex_int(tx["gasPrice"]),
                    hex_int(tx["gas"]),
                    to,
                    hex_int(tx["value"]),
                    hex_bytes(tx["input"]),
                    hex_int(tx["v"]),
                    hex_int(tx["r"]),
                    hex_int(tx["s"]),
                ]
            )
        )
    common = [hex_int(tx["chainId"]), hex_int(tx["nonce"])]
    if kind == 1:
        body = [
            *common,
            hex_int(tx["gasPrice"]),
            hex_int(tx["gas"]),
            to,
            hex_int(tx["value"]),
            hex_bytes(tx["input"]),
            _access_list(tx.get("accessList")),
        ]
    else:
        body = [
            *common,
            hex_int(tx["maxPriorityFeePerGas"]),
            hex_int(tx["maxFeePerGas"]),
            hex_int(tx["gas"]),
            to,
            hex_int(tx["value"]),
            hex_bytes(tx["input"]),
            _access_list(tx.get("accessList")),
        ]
        if kind == 3:
            body += [
                hex_int(tx["maxFeePerBlobGas"]),
                [hex_bytes(h) for h in tx.get("blobVersionedHashes", [])],
            ]
        elif kind == 4:
            body.append(
                [
                    [
                        hex_int(a["chainId"]),
                        hex_bytes(a["address"]),
                        hex_int(a["nonce"]),
                        hex_int(a["yParity"]),
                        hex_int(a["r"]),
                        hex_int(a["s"]),
                    ]
                    for a in tx.get("authorizationList", [])
                ]
            )
        elif kind != 2:
            raise ValueError(f"unknown transaction type {kind}")
    return bytes([kind]) + bytes(rlp.encode(body + sig))


def encode_receipt(receipt: dict[str, Any]) -> bytes:

    kind = hex_int(receipt.get("type", "0x0"))
    logs = [
        [hex_bytes(log["address"]), [hex_bytes(t) for t in log["topics"]], hex_bytes(log["data"])]
        for log in receipt["logs"]
    ]
    status: Any = hex_int(receipt["status"]) if "status" in receipt else hex_bytes(receipt["root"])
    encoded = bytes(
        rlp.encode([status, hex_int(receipt["cumulativeGasUsed"]), hex_bytes(receipt["logsBloom"]), logs])
    )
    return encoded if kind == 0 else bytes([kind]) + encoded


def trie_root(values: Iterable[bytes]) -> bytes:

    trie = HexaryTrie({})
    for index, value in enumerate(values):
        trie[rlp.encode(index)] = value
    return bytes(trie.root_hash)


def check_block(
    block: dict[str, Any], receipts: list[dict[str, Any]], parent_hash: bytes | None
) -> str | None:
    """Everything about one block that does not depend on the signer set; the reason it fails, or None."""

    if parent_hash is not None and hex_bytes(block["parentHash"]) != parent_hash:
        return "parent hash does not match the previous block"
    if header_hash(block) != hex_bytes(block["hash"]):
        return "header does not hash to the block hash (header fields were altered)"
    if hex_bytes(block["sha3Uncles"]) != EMPTY_UNCLES or block.get("uncles"):
        return "a Clique block has no uncles"
    transactions = block.get("transactions", [])
    encoded = []
    for tx in transactions:
        if not isinstance(tx, dict):
            return "the node returned transaction hashes, not bodies"
        raw = encode_transaction(tx)
        if keccak(raw) != hex_bytes(tx["hash"]):
            return f"transaction {tx['hash']} does not hash to its fields"
        encoded.append(raw)
    if trie_root(encoded) != hex_bytes(block["transactionsRoot"]):
        return "transactions root does not match the transactions"
    if len(receipts) != len(transactions):
        return "receipts and transactions differ in number"
    ordered = sorted(receipts, key=lambda r: hex_int(r["transactionIndex"]))
    if trie_root(encode_receipt(r) for r in ordered) != hex_bytes(block["receiptsRoot"]):
        return "receipts root does not match the receipts"
    return None


def verify_chain(
    rpc: ChainRpc,
    *,
    first: int = 0,
    last: int | None = None,
    genesis_hash: str | None = None,
    on_block: Callable[[int], None] | None = None,
    epoch: int = DEFAULT_EPOCH,
) -> ChainVerdict:
    """Re-check the chain from genesis: links, hashes, Clique seals and signer turns, transaction/receipt roots.

    The Clique rules are :class:`~.clique.Snapshot`'s (the oracle's light client uses the same): the signer
    set from the genesis ``extraData``, changed by votes and restated at every ``epoch`` checkpoint; every
    block sealed by a current signer, in-turn difficulty, no signer twice within ``floor(N/2)+1`` blocks.
    Blocks before ``first`` are checked for their seals only. State roots are not replayed.
    """
    head = int(rpc.call("eth_blockNumber"), 16) if last is None else last
    genesis = rpc.block(0)
    zero = "0x" + header_hash(genesis).hex()
    if zero != genesis["hash"]:
        return ChainVerdict(
            0,
            head,
            genesis["hash"],
            (),
            BadBlock(0, genesis["hash"], "genesis header does not hash to its hash"),
        )
    if genesis_hash is not None and genesis_hash.lower() != zero:
        return ChainVerdict(
            0, head, zero, (), BadBlock(0, zero, f"genesis is not the expected {genesis_hash}")
        )
    try:
        snapshot = Snapshot.at_checkpoint(genesis, epoch)
    except BadHeader as exc:
        return ChainVerdict(0, head, zero, (), BadBlock(0, zero, exc.reason))
    checked = 1
    parent = hex_bytes(genesis["hash"])
    start = max(first, 1)
    for number in range(1, head + 1):
        block = rpc.block(number)
        reason = None
        if number >= start:
            reason = check_block(block, rpc.receipts(block), parent)
        if reason is None:
            try:
                snapshot, _ = snapshot.verify(block)
            except BadHeader as exc:
                reason = exc.reason
        if reason is not None:
            return ChainVerdict(
                checked, head, zero, _hex_all(snapshot.signers), BadBlock(number, block["hash"], reason)
            )
        parent = hex_bytes(block["hash"])
        if number >= start:
            checked += 1
            if on_block is not None:
                on_block(number)
    return ChainVerdict(checked, head, zero, _hex_all(snapshot.signers), None)


def _hex_all(items: Iterable[bytes]) -> tuple[str, ...]:
    return tuple(to_checksum_address(item) for item in items)


__all__ = [
    "HEADER_FIELDS",
    "BadBlock",
    "ChainRpc",
    "ChainVerdict",
    "checkpoint_signers",
    "encode_receipt",
    "encode_transaction",
    "header_fields",
    "header_hash",
    "seal_hash",
    "seal_signer",
    "trie_root",
    "verify_chain",
]
