"""Merkle-Patricia trie nodes as bytes: RLP of nested byte strings, nibble paths in hex-prefix form, references.

pyrlp infers a serializer for every item it encodes and checks every item it decodes, which is most of the
cost of a trie node; trie nodes are only ever nested lists of byte strings, so a direct codec does the same
job several times faster. Output is byte-identical to pyrlp's (``tests/node/test_bulk_trie.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_hash.auto import keccak
from eth_typing import Hash32
from lru import LRU

BLANK_ROOT = Hash32(keccak(b"\x80"))  # the root of the empty trie: the hash of an empty string's RLP


def encode(item: Any) -> bytes:
    """RLP of a byte string or a (nested) list of byte strings."""
    if isinstance(item, bytes):
        size = len(item)
        if size == 1 and item[0] < 0x80:
            return item
        return (bytes((0x80 + size,)) if size < 56 else _length(0xB7, size)) + item
    payload = b"".join([encode(child) for child in item])
    size = len(payload)
    return (bytes((0xC0 + size,)) if size < 56 else _length(0xF7, size)) + payload


def _length(offset: int, size: int) -> bytes:
    digits = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((offset + len(digits),)) + digits


def decode(data: bytes) -> Any:
    """The nested lists of byte strings that ``data`` (one RLP item, as stored in a trie) encodes."""
    item, _end = _decode_at(data, 0)
    return item


def _decode_at(data: bytes, pos: int) -> tuple[Any, int]:
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        end = pos + 1 + first - 0x80
        return data[pos + 1 : end], end
    if first < 0xC0:
        digits = first - 0xB7
        start = pos + 1 + digits
        end = start + int.from_bytes(data[pos + 1 : start], "big")
        return data[start:end], end
    if first < 0xF8:
        start, end = pos + 1, pos + 1 + first - 0xC0
    else:
        digits = first - 0xF7
        start = pos + 1 + digits
        end = start + int.from_bytes(data[pos + 1 : start], "big")
    items = []
    while start < end:
        child, start = _decode_at(data, start)
        items.append(child)
    return items, end


_HEX_TO_NIBBLE = bytes.maketrans(b"0123456789abcdef", bytes(range(16)))
_NIBBLE_TO_HEX = bytes.maketrans(bytes(range(16)), b"0123456789abcdef")


def nibbles(key: bytes) -> bytes:
    """``key`` as one byte per nibble, high nibble first (through ``hex``: C loops, not Python ones)."""
    return key.hex().encode().translate(_HEX_TO_NIBBLE)


def pack_nibbles(path: bytes) -> bytes:
    """An even-length nibble path back to bytes (``nibbles``' inverse)."""
    return bytes.fromhex(path.translate(_NIBBLE_TO_HEX).decode())


def hex_prefix(path: bytes, leaf: bool) -> bytes:
    """The compact (hex-prefix) encoding of a nibble path of a leaf or extension node."""
    flag = 2 if leaf else 0
    if len(path) % 2:
        packed = bytes([(flag + 1) << 4 | path[0]])
        rest = path[1:]
    else:
        packed = bytes([flag << 4])
        rest = path
    return packed + pack_nibbles(rest)


def decode_hex_prefix(encoded: bytes) -> tuple[bytes, bool]:
    """(nibble path, is_leaf) of a compact-encoded path."""
    flag = encoded[0] >> 4
    head = bytes([encoded[0] & 0x0F]) if flag & 1 else b""
    return head + nibbles(encoded[1:]), bool(flag & 2)


def reference(node: Any, nodes: dict[Hash32, bytes]) -> Any:
    """How a parent refers to ``node``: embedded when its encoding is under 32 bytes (as the trie
    specification requires), else by hash, the encoding recorded in ``nodes``."""
    encoded = encode(node)
    if len(encoded) < 32:
        return node
    digest = Hash32(keccak(encoded))
    nodes[digest] = encoded
    return digest


def root(node: Any, nodes: dict[Hash32, bytes]) -> Hash32:
    """The hash of a root node, recorded in ``nodes`` (a root is stored by hash even under 32 bytes)."""
    encoded = encode(node)
    digest = Hash32(keccak(encoded))
    nodes[digest] = encoded
    return digest


# Decoded trie nodes by hash, shared by every reader, writer and state diff on any thread: nodes are
# content-addressed (a hash always decodes to the same node), so an entry is never stale. A block's writes
# decode the paths they change; pruning's state diff walks the same nodes right after: one decode serves both.
DECODED: LRU[bytes, Any] = LRU(32_768)


def decoded(node_hash: bytes, read: Callable[[bytes], bytes]) -> Any:
    """The node stored under ``node_hash``, decoded (``read`` fetches its encoding on a cache miss)."""
    node = DECODED.get(node_hash)
    if node is None:
        node = DECODED[node_hash] = decode(read(node_hash))
    return node


def item_end(data: bytes, pos: int) -> int:
    """Where the RLP item starting at ``pos`` in ``data`` ends (its bytes are ``data[pos:item_end]``)."""
    first = data[pos]
    if first < 0x80:
        return pos + 1
    if first < 0xB8:
        return pos + 1 + first - 0x80
    if first < 0xC0:
        size = first - 0xB7
        return pos + 1 + size + int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
    if first < 0xF8:
        return pos + 1 + first - 0xC0
    size = first - 0xF7
    return pos + 1 + size + int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
