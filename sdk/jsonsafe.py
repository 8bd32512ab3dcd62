"""JSON from strangers: parsed only when its nesting is bounded.

CPython's JSON decoder recurses once per nesting level in C. In a process whose recursion limit was raised
(py-evm sets 12,288), a 200 KB body of ``[[[[…`` overflows the C stack and kills the process (SIGSEGV) before
any ``RecursionError``. Every server that parses a request body from the network goes through here.
"""

from __future__ import annotations

import itertools
import json
import re
from array import array
from typing import Any

MAX_DEPTH = 64  # JSON-RPC needs a handful of levels; far below where the C stack is in danger
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


class TooDeep(ValueError):
    """The document nests deeper than allowed (a ``ValueError``, like any other malformed JSON)."""


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` after checking, in linear time, that arrays and objects nest at most ``max_depth`` deep.
    Malformed input raises ``ValueError`` as ``json.loads`` does."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    if text.count("[") + text.count("{") > max_depth:
        _check_depth(text, max_depth)
    return json.loads(text)


def _check_depth(text: str, max_depth: int) -> None:
    # Strings may hold brackets: drop them, keep only the brackets, then the deepest running total of
    # openings minus closings is the nesting depth. Every step runs in C, linear in the size of the body.
    brackets = _STRINGS.sub("", text).encode("utf-8").translate(_STEPS, _NOT_BRACKETS)
    if brackets and max(itertools.accumulate(array("b", brackets))) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")


_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 for an opening, -1 (signed byte) for a closing
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
