"""The chain layer's boundary at run time: a ``Chain`` / ``CallReader`` proxy that records every py-evm object a
node module above the chain layer sends in or gets out (``conftest.py`` puts it under every in-process node)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from collections.abc import Callable
from typing import Any

EVM_MODULE = re.compile(r"^eth(\.|$)")  # py-evm itself; eth_utils, eth_keys, eth_typing are other packages
# Node modules that may hold py-evm objects (tests/test_import_graph.py's PY_EVM_ALLOWED, plus chainfile).
CHAIN_LAYER = ("chain", "chainfile", "consensus", "finality", "storage", "ordered_trie")
# Fields that carry a py-evm object through the layers above without them reading it: the txpool keeps each
# decoded transaction for block building (records.PoolTx, "opaque above this layer").
OPAQUE_FIELDS = {("PoolTx", "evm")}
# Members still handing py-evm objects out, with where (test_chain_boundary.py keeps this list honest: it only
# shrinks). Empty since sync imports a peer's block through Chain.import_raw (a BlockImport record).
KNOWN_CROSSINGS: dict[str, str] = {}
_MAX_DEPTH = 5


def is_evm_class(cls: type) -> bool:
    return any(EVM_MODULE.match(getattr(k, "__module__", None) or "") for k in cls.__mro__)


def evm_objects(value: Any, depth: int = 0) -> list[str]:
    """The py-evm objects (or classes) in ``value``, looking into containers and dataclass fields."""
    cls = value if isinstance(value, type) else type(value)
    if is_evm_class(cls):
        return [cls.__qualname__]
    if depth >= _MAX_DEPTH or isinstance(value, (str, bytes, int, float, type(None))):
        return []
    items: list[Any]
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        items = [
            getattr(value, f.name) for f in dataclasses.fields(value) if (name, f.name) not in OPAQUE_FIELDS
        ]
    else:
        return []
    return [found for item in items for found in evm_objects(item, depth + 1)]


def outside_chain_layer(module: str) -> bool:
    parts = module.split(".")
    return parts[:2] == ["pamchain", "node"] and len(parts) > 2 and parts[2] not in CHAIN_LAYER


@dataclasses.dataclass
class Crossings:
    """What crossed, as ``"<module> got Chain.head: BlockHeader"`` lines."""

    found: list[str] = dataclasses.field(default_factory=list)

    def add(self, line: str) -> None:
        if line not in self.found:
            self.found.append(line)


class ChainBoundary:
    """``target`` (a ``Chain`` or a ``CallReader``) as seen from above: attribute reads, call arguments and
    results are checked when the caller is a node module outside the chain layer; the chain layer's own use
    (a ``CallReader`` built on this ``Chain``) goes straight through."""

    def __init__(self, target: Any, crossings: Crossings) -> None:
        object.__setattr__(self, "_ChainBoundary__target", target)
        object.__setattr__(self, "_ChainBoundary__crossings", crossings)

    def __getattr__(self, name: str) -> Any:
        target = self.__target
        value = getattr(target, name)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if not outside_chain_layer(caller):
            return value
        what = f"{type(target).__name__}.{name}"
        if what in KNOWN_CROSSINGS:
            return value
        seen = self.__crossings
        if name.startswith("_"):
            seen.add(f"{caller} named {what}")
        if inspect.ismethod(value):
            return _checked(value, caller, what, seen)
        for leak in evm_objects(value):
            seen.add(f"{caller} got {what}: {leak}")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__target, name, value)


def _checked(method: Callable[..., Any], caller: str, what: str, seen: Crossings) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        for leak in evm_objects((args, kwargs)):
            seen.add(f"{caller} passed {what}(...): {leak}")
        result = method(*args, **kwargs)
        for leak in evm_objects(result):
            seen.add(f"{caller} got {what}(...): {leak}")
        return result

    return call
