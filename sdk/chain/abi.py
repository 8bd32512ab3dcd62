"""The Solidity ABI as the clients use it: keccak, checksummed addresses, call and log encoding and decoding.

Stdlib and the ``sha3`` keccak extension only. Both clients (the typed ``PamClient`` and the lean
``ChainReader``) encode calls and decode results and logs here, driven by the shipped ABI artifacts. Not
``eth_abi``/``eth_utils``: importing them (pydantic, parsimonious) costs ~0.3 s, the whole budget of a read-only
command. The codec covers the whole ABI type grammar (``uintN``/``intN``, ``address``, ``bool``, ``bytesN``,
``bytes``, ``string``, arrays and tuples); tests check it against ``eth_abi``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sha3
from pamchain.sdk.errors import SdkError

WORD = 32


class AbiError(SdkError, ValueError):
    """A value does not fit its ABI type, or encoded data is malformed."""


def keccak(data: bytes = b"", *, text: str | None = None) -> bytes:
    """Keccak-256 (Ethereum's, not SHA3-256) of ``data``, or of ``text`` as UTF-8."""
    return bytes(sha3.keccak_256(text.encode() if text is not None else data).digest())


_HEX_ADDRESS = re.compile(r"(0x)?[0-9a-fA-F]{40}")


def is_address(value: Any) -> bool:
    """Whether ``value`` is a 20-byte hex address, with or without 0x, in any case (as eth_utils decides)."""
    return isinstance(value, str) and _HEX_ADDRESS.fullmatch(value) is not None


def to_checksum_address(value: str | bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address given as hex or as bytes."""
    if isinstance(value, bytes | bytearray):
        if len(value) != 20:
            raise AbiError(f"an address is 20 bytes, not {len(value)}")
        return _checksummed(bytes(value).hex())
    if not _HEX_ADDRESS.fullmatch(value):
        raise AbiError(f"{value!r} is not an address")
    return _checksummed(value.removeprefix("0x").lower())


@functools.lru_cache(maxsize=4096)  # a history names the same few contracts and devices over and over
def _checksummed(digits: str) -> str:
    hashed = keccak(digits.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(digits, hashed[:40], strict=True)
    )


def hex_bytes(value: str | bytes) -> bytes:
    """Bytes from a JSON-RPC hex string (``0x...``) or from bytes (web3's ``HexBytes`` included)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(value.removeprefix("0x"))


# -- types ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AbiType:
    """One ABI type: ``kind`` is uint, int, address, bool, fixed_bytes, bytes, string, array or tuple."""

    kind: str
    size: int = 0  # bits of uint/int, bytes of fixed_bytes, length of a fixed array (0: dynamic array)
    items: tuple[AbiType, ...] = ()  # tuple components, or the one element type of an array

    @property
    def dynamic(self) -> bool:
        if self.kind in ("bytes", "string"):
            return True
        if self.kind == "array":
            return self.size == 0 or self.items[0].dynamic
        return self.kind == "tuple" and any(item.dynamic for item in self.items)

    @property
    def head_size(self) -> int:
        """Bytes this type takes in its enclosing head: one word for a dynamic type (its offset)."""
        if self.dynamic:
            return WORD
        if self.kind == "array":
            return self.size * self.items[0].head_size
        if self.kind == "tuple":
            return sum(item.head_size for item in self.items)
        return WORD

    @property
    def canonical(self) -> str:
        """The type as a signature spells it (``(uint256,bytes32)[]``)."""
        if self.kind == "array":
            return f"{self.items[0].canonical}[{self.size or ''}]"
        if self.kind == "tuple":
            return "(" + ",".join(item.canonical for item in self.items) + ")"
        if self.kind in ("uint", "int"):
            return f"{self.kind}{self.size}"
        if self.kind == "fixed_bytes":
            return f"bytes{self.size}"
        return self.kind


_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")


def parse_type(param: Mapping[str, Any]) -> AbiType:
    """The :class:`AbiType` of one ABI JSON parameter (``{"type": ..., "components": [...]}``)."""
    return _parse(str(param["type"]), param.get("components") or ())


def _parse(text: str, components: Sequence[Mapping[str, Any]]) -> AbiType:
    array = _ARRAY.match(text)
    if array is not None:
        return AbiType("array", int(array.group(2) or 0), (_parse(array.group(1), components),))
    if text == "tuple":
        return AbiType("tuple", 0, tuple(parse_type(c) for c in components))
    if text in ("address", "bool", "bytes", "string"):
        return AbiType(text)
    for kind in ("uint", "int"):
        if text.startswith(kind) and text[len(kind) :].isdigit():
            bits = int(text[len(kind) :])
            if not (0 < bits <= 256 and bits % 8 == 0):
                raise AbiError(f"bad ABI type {text!r}")
            return AbiType(kind, bits)
    if text.startswith("bytes") and text[5:].isdigit() and 0 < int(text[5:]) <= 32:
        return AbiType("fixed_bytes", int(text[5:]))
    raise AbiError(f"unsupported ABI type {text!r}")


# -- encoding ---------------------------------------------------------------------------------------------


def encode(types: Sequence[AbiType], values: Sequence[Any]) -> bytes:
    """``values`` ABI-encoded as the tuple ``types`` (a call's arguments, a function's results)."""
    return _encode(AbiType("tuple", 0, tuple(types)), tuple(values))


def _word(number: int) -> bytes:
    return number.to_bytes(WORD, "big")


def _encode(t: AbiType, value: Any) -> bytes:
    kind = t.kind
    if kind == "uint":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << t.size:
            raise AbiError(f"{value!r} is not a {t.canonical}")
        return _word(value)
    if kind == "int":
        limit = 1 << (t.size - 1)
        if isinstance(value, bool) or not isinstance(value, int) or not -limit <= value < limit:
            raise AbiError(f"{value!r} is not a {t.canonical}")
        return (value % (1 << 256)).to_bytes(WORD, "big")
    if kind == "bool":
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise AbiError(f"{value!r} is not a bool")
        return _word(int(value))
    if kind == "address":
        raw = value if isinstance(value, bytes) else _address_bytes(value)
        if len(raw) != 20:
            raise AbiError(f"{value!r} is not an address")
        return raw.rjust(WORD, b"\x00")
    if kind == "fixed_bytes":
        if not isinstance(value, bytes | bytearray) or len(value) > t.size:
            raise AbiError(f"{value!r} is not a bytes{t.size}")
        return bytes(value).ljust(WORD, b"\x00")
    if kind in ("bytes", "string"):
        if kind == "string" and not isinstance(value, str):
            raise AbiError(f"{value!r} is not a string")
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return _word(len(raw)) + raw.ljust(-(-len(raw) // WORD) * WORD, b"\x00")
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise AbiError(f"{value!r} is not a {t.canonical}")
    items = list(value)
    if kind == "array":
        if t.size and len(items) != t.size:
            raise AbiError(f"{t.canonical} takes {t.size} items, not {len(items)}")
        body = _encode_sequence([t.items[0]] * len(items), items)
        return body if t.size else _word(len(items)) + body
    if len(items) != len(t.items):
        raise AbiError(f"{t.canonical} takes {len(t.items)} values, not {len(items)}")
    return _encode_sequence(list(t.items), items)


def _encode_sequence(types: Sequence[AbiType], values: Sequence[Any]) -> bytes:
    heads, tails = [], []
    offset = sum(t.head_size for t in types)
    for t, value in zip(types, values, strict=True):
        encoded = _encode(t, value)
        if t.dynamic:
            heads.append(_word(offset))
            tails.append(encoded)
            offset += len(encoded)
        else:
            heads.append(encoded)
    return b"".join(heads) + b"".join(tails)


def _address_bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not _HEX_ADDRESS.fullmatch(value):
        raise AbiError(f"{value!r} is not an address")
    return bytes.fromhex(value.removeprefix("0x"))


# -- decoding ---------------------------------------------------------------------------------------------


def decode(types: Sequence[AbiType], data: bytes) -> tuple[Any, ...]:
    """ABI-encoded ``data`` as the tuple ``types``: ints, bools, checksummed addresses, bytes, str, tuples."""
    result = _decode(AbiType("tuple", 0, tuple(types)), bytes(data), 0)
    assert isinstance(result, tuple)
    return result


def _read_word(data: bytes, at: int) -> int:
    if at < 0 or at + WORD > len(data):
        raise AbiError(f"encoded data too short: a word at {at} of {len(data)} bytes")
    return int.from_bytes(data[at : at + WORD], "big")


def _decode(t: AbiType, data: bytes, at: int) -> Any:
    """The value of type ``t`` whose encoding starts at ``at`` (the tail, for a dynamic type)."""
    kind = t.kind
    if kind in ("uint", "int", "bool", "address", "fixed_bytes"):
        number = _read_word(data, at)
        if kind == "uint":
            if number >> t.size:
                raise AbiError(f"value out of range for {t.canonical}")
            return number
        if kind == "int":
            signed = number - (1 << 256) if number >> 255 else number
            if not -(1 << (t.size - 1)) <= signed < 1 << (t.size - 1):
                raise AbiError(f"value out of range for {t.canonical}")
            return signed
        if kind == "bool":
            if number > 1:
                raise AbiError("a bool is 0 or 1")
            return bool(number)
        raw = data[at : at + WORD]
        if kind == "address":
            if any(raw[:12]):
                raise AbiError("address with non-zero padding")
            return to_checksum_address(raw[12:])
        if any(raw[t.size :]):
            raise AbiError(f"bytes{t.size} with non-zero padding")
        return raw[: t.size]
    if kind in ("bytes", "string"):
        length = _read_word(data, at)
        if at + WORD + length > len(data):
            raise AbiError("encoded data too short for its length")
        raw = data[at + WORD : at + WORD + length]
        if kind == "bytes":
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise AbiError("string is not UTF-8") from exc
    if kind == "array":
        count = t.size
        if not count:
            count = _read_word(data, at)
            at += WORD
            if count * WORD > len(data) - at:  # every item takes at least one word: a bound on bad lengths
                raise AbiError("encoded data too short for its array length")
        return _decode_sequence([t.items[0]] * count, data, at)
    return _decode_sequence(list(t.items), data, at)


def _decode_sequence(types: Sequence[AbiType], data: bytes, start: int) -> tuple[Any, ...]:
    out = []
    head = start
    for t in types:
        out.append(_decode(t, data, start + _read_word(data, head)) if t.dynamic else _decode(t, data, head))
        head += t.head_size
    return tuple(out)


# -- functions, events, contracts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Function:
    """One function of a contract's ABI: its selector, how to encode a call and decode its results."""

    name: str
    input_names: tuple[str, ...]
    inputs: tuple[AbiType, ...]
    outputs: tuple[AbiType, ...]
    mutability: str

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(t.canonical for t in self.inputs)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]

    def encode_call(self, *args: Any) -> bytes:
        if len(args) != len(self.inputs):
            raise AbiError(f"{self.name}() takes {len(self.inputs)} argument(s), not {len(args)}")
        return self.selector + encode(self.inputs, args)

    def decode_result(self, data: bytes) -> Any:
        """As web3 returns it: the value of a single output (a struct is a tuple), else the tuple of them."""
        values = decode(self.outputs, data)
        return values[0] if len(values) == 1 else values

    def decode_input(self, data: bytes) -> dict[str, Any]:
        """The named arguments of a call to this function (``data`` with its selector)."""
        if bytes(data[:4]) != self.selector:
            raise AbiError(f"not a call to {self.signature}")
        return dict(zip(self.input_names, decode(self.inputs, bytes(data[4:])), strict=True))


@dataclass(frozen=True, slots=True)
class EventAbi:
    """One event of a contract's ABI: its topic0 and how to decode its logs."""

    name: str
    input_names: tuple[str, ...]
    inputs: tuple[AbiType, ...]
    indexed: tuple[bool, ...]

    @property
    def topic(self) -> bytes:
        return keccak(text=f"{self.name}({','.join(t.canonical for t in self.inputs)})")

    def decode(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        """A log's arguments by name; an indexed dynamic argument is only its hash (the topic) in a log."""
        if len(topics) != 1 + sum(self.indexed):
            raise AbiError(f"{self.name}: {len(topics)} topics for {1 + sum(self.indexed)} expected")
        unindexed = iter(decode([t for t, i in zip(self.inputs, self.indexed, strict=True) if not i], data))
        indexed = iter(topics[1:])
        args = {}
        for name, t, is_indexed in zip(self.input_names, self.inputs, self.indexed, strict=True):
            if not is_indexed:
                args[name] = next(unindexed)
            else:
                topic = next(indexed)
                args[name] = topic if t.dynamic or t.kind in ("array", "tuple") else _decode(t, topic, 0)
        return args


class ContractAbi:
    """A contract's functions by name and events by topic0, parsed from its ABI JSON."""

    def __init__(self, items: Iterable[Mapping[str, Any]]) -> None:
        self.items = [dict(item) for item in items]
        self.functions: dict[str, Function] = {}
        self.events: dict[bytes, EventAbi] = {}
        for item in self.items:
            inputs = item.get("inputs") or []
            if item.get("type") == "function":
                self.functions[item["name"]] = Function(
                    item["name"],
                    tuple(str(p.get("name", "")) for p in inputs),
                    tuple(parse_type(p) for p in inputs),
                    tuple(parse_type(p) for p in item.get("outputs") or []),
                    str(item.get("stateMutability", "nonpayable")),
                )
            elif item.get("type") == "event":
                event = EventAbi(
                    item["name"],
                    tuple(str(p.get("name", "")) for p in inputs),
                    tuple(parse_type(p) for p in inputs),
                    tuple(bool(p.get("indexed")) for p in inputs),
                )
                self.events[event.topic] = event

    def function_for_call(self, data: bytes) -> Function | None:
        """The function ``data`` (a call with its selector) calls, if this contract has it."""
        selector = bytes(data[:4])
        return next((f for f in self.functions.values() if f.selector == selector), None)


@functools.cache
def suite_abi(name: str) -> ContractAbi:
    """The parsed ABI of one deployable of the suite, as shipped (see ``pamchain.contracts.artifacts``)."""
    from pamchain.contracts import artifacts

    return ContractAbi(artifacts()[name]["abi"])


__all__ = [
    "AbiError",
    "AbiType",
    "ContractAbi",
    "EventAbi",
    "Function",
    "decode",
    "encode",
    "hex_bytes",
    "is_address",
    "keccak",
    "parse_type",
    "suite_abi",
    "to_checksum_address",
]
