"""Decoding of JSON-RPC parameters with geth's strictness (quantities without leading zeros, exact lengths)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..records import AccessListEntry, CallRequest
from .errors import InvalidParams

MAX_QUANTITY_BITS = 256


def quantity(value: Any, what: str = "quantity") -> int:
    if not isinstance(value, str):
        raise InvalidParams(
            f"invalid argument: {what}: json: cannot unmarshal non-string into Go value of type hexutil.Big"
        )
    if not value.startswith(("0x", "0X")):
        raise InvalidParams(f"invalid argument: {what}: hex string without 0x prefix")
    digits = value[2:]
    if not digits:
        raise InvalidParams(f'invalid argument: {what}: hex string "0x"')
    if len(digits) > 1 and digits[0] == "0":
        raise InvalidParams(f"invalid argument: {what}: hex number with leading zero digits")
    if len(digits) > MAX_QUANTITY_BITS // 4:
        raise InvalidParams(f"invalid argument: {what}: hex number > 256 bits")
    try:
        return int(digits, 16)
    except ValueError:
        raise InvalidParams(f"invalid argument: {what}: invalid hex string") from None


def data(value: Any, what: str = "data", length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise InvalidParams(
            f"invalid argument: {what}: json: cannot unmarshal non-string into Go value of type hexutil.Bytes"
        )
    if not value.startswith(("0x", "0X")):
        raise InvalidParams(f"invalid argument: {what}: hex string without 0x prefix")
    digits = value[2:]
    if len(digits) % 2:
        raise InvalidParams(f"invalid argument: {what}: hex string of odd length")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise InvalidParams(f"invalid argument: {what}: invalid hex string") from None
    if length is not None and len(raw) != length:
        raise InvalidParams(
            f"invalid argument: {what}: hex string has length {len(digits)}, want {length * 2}"
        )
    return raw


def address(value: Any, what: str = "address") -> bytes:
    return data(value, what, 20)


def hash32(value: Any, what: str = "hash") -> bytes:
    return data(value, what, 32)


def boolean(value: Any, what: str = "bool") -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"invalid argument: {what}: expected a boolean")
    return value


@dataclass(frozen=True)
class BlockRef:
    """A block selector: a tag, a number, or a hash (EIP-1898)."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False


TAGS = ("latest", "pending", "safe", "finalized", "earliest")


def block_ref(value: Any, what: str = "block", allow_hash: bool = True) -> BlockRef:
    if isinstance(value, str):
        if value in TAGS:
            return BlockRef(tag=value)
        return BlockRef(number=_block_number(value, what))
    if allow_hash and isinstance(value, dict):
        if "blockHash" in value and "blockNumber" in value:
            raise InvalidParams(f"invalid argument: {what}: cannot specify both blockHash and blockNumber")
        if "blockHash" in value:
            canonical = value.get("requireCanonical", False)
            return BlockRef(hash=hash32(value["blockHash"], what), require_canonical=boolean(canonical, what))
        if "blockNumber" in value:
            return block_ref(value["blockNumber"], what, allow_hash=False)
    raise InvalidParams(f"invalid argument: {what}: hex string without 0x prefix")


def _block_number(value: str, what: str) -> int:
    number = quantity(value, what)
    if number >= 2**63:
        raise InvalidParams(f"invalid argument: {what}: block number larger than int64")
    return number


def block_ref_or_hash(value: Any, what: str = "block") -> BlockRef:
    """``eth_getBalance`` & co accept a bare 32-byte hash too (geth does)."""
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        return BlockRef(hash=hash32(value, what))
    return block_ref(value, what)


def call_request(value: Any, what: str = "transaction") -> CallRequest:
    if not isinstance(value, dict):
        raise InvalidParams(f"invalid argument: {what}: expected an object")
    if "input" in value and "data" in value and value["input"] != value["data"]:
        raise InvalidParams(
            'invalid argument: both "data" and "input" are set and not equal. Please use "input" to pass '
            "transaction call data"
        )
    payload = value.get("input", value.get("data"))

    def opt(key: str, parse: Any) -> Any:
        v = value.get(key)
        return None if v is None else parse(v, f"{what}.{key}")

    access: tuple[AccessListEntry, ...] = ()
    if value.get("accessList") is not None:
        raw_list = value["accessList"]
        if not isinstance(raw_list, list):
            raise InvalidParams(f"invalid argument: {what}.accessList: expected a list")
        entries = []
        for item in raw_list:
            if not isinstance(item, dict):
                raise InvalidParams(f"invalid argument: {what}.accessList: expected objects")
            slots = item.get("storageKeys") or []
            if not isinstance(slots, list):
                raise InvalidParams(f"invalid argument: {what}.accessList.storageKeys: expected a list")
            entries.append(
                AccessListEntry(
                    address(item.get("address"), f"{what}.accessList.address"),
                    tuple(int.from_bytes(hash32(s, f"{what}.accessList.storageKeys"), "big") for s in slots),
                )
            )
        access = tuple(entries)
    blob_hashes: tuple[bytes, ...] = ()
    if value.get("blobVersionedHashes") is not None:
        if not isinstance(value["blobVersionedHashes"], list):
            raise InvalidParams(f"invalid argument: {what}.blobVersionedHashes: expected a list")
        blob_hashes = tuple(hash32(h, f"{what}.blobVersionedHashes") for h in value["blobVersionedHashes"])
    gas = opt("gas", quantity)
    if gas is not None and gas >= 2**64:
        raise InvalidParams(f"invalid argument: {what}.gas: hex number > 64 bits")
    nonce = opt("nonce", quantity)
    return CallRequest(
        sender=opt("from", address),
        to=opt("to", address),
        gas=gas,
        gas_price=opt("gasPrice", quantity),
        max_fee=opt("maxFeePerGas", quantity),
        max_priority_fee=opt("maxPriorityFeePerGas", quantity),
        value=opt("value", quantity) or 0,
        data=data(payload, f"{what}.input") if payload is not None else b"",
        nonce=nonce,
        access_list=access,
        blob_versioned_hashes=blob_hashes,
        max_fee_per_blob_gas=opt("maxFeePerBlobGas", quantity),
    )


def expect(params: list[Any], minimum: int, maximum: int) -> list[Any]:
    """Pad optional trailing params with None; enforce the count like geth."""
    if len(params) < minimum:
        raise InvalidParams(f"missing value for required argument {len(params)}")
    if len(params) > maximum:
        raise InvalidParams(f"too many arguments, want at most {maximum}")
    return params + [None] * (maximum - len(params))
