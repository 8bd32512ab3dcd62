"""py-evm objects stay inside the chain layer: what rpc, p2p, core and the service take from ``Chain`` and
``CallReader`` is records and plain values (docs/architecture.md).

Two guards. This file's is static: every member of ``Chain`` / ``CallReader`` that a node module outside the
chain layer names is annotated, and no py-evm type (``eth.*``) or bare ``Any`` is in its annotation; it covers
code paths no test runs. ``boundary.py`` is the runtime one (on for every in-process node of tests/node,
``conftest.py``): it fails a test when an object of a py-evm class actually crosses, whatever its annotation
says (an ``Any`` or an opaque field would slip past this file).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pamchain.node import make_genesis, run_node
from pamchain.node.chain import CallReader, Chain
from pamchain.node.genesis import load_genesis
from pamchain.node.records import HeaderRecord
from pamchain.node.storage import open_store

from support.rpc import free_port

from .boundary import KNOWN_CROSSINGS, ChainBoundary, Crossings, evm_objects, is_evm_class
from .node_process import wait_until

NODE = Path(__file__).resolve().parents[2] / "node"
# The node modules that may hold py-evm objects (tests/test_import_graph.py's PY_EVM_ALLOWED, by folder/file).
CHAIN_LAYER = ("chain", "chainfile", "consensus", "finality", "storage", "ordered_trie")
# How the layers above name a ``Chain`` or a ``CallReader`` they call (``self.chain.x``, ``reader.x``, ...).
RECEIVERS = {"chain": Chain, "_chain": Chain, "reader": CallReader, "_loop_reader": CallReader}


def _outer_modules() -> Iterator[Path]:
    for path in sorted(NODE.rglob("*.py")):
        if path.relative_to(NODE).parts[0].removesuffix(".py") not in CHAIN_LAYER:
            yield path


def _receiver(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@functools.cache
def _instances() -> dict[type, Any]:
    """One of each, to tell their members (instance attributes included) from a namesake's (an asyncio
    ``reader``)."""
    chain = Chain(load_genesis(make_genesis([b"\x01" * 20], 1337, {})), open_store(None))
    return {Chain: chain, CallReader: CallReader(chain)}


def named_members() -> dict[str, set[str]]:
    """``Class.member`` -> the modules outside the chain layer that name it."""
    found: dict[str, set[str]] = {}
    for path in _outer_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Attribute):
                continue
            cls = RECEIVERS.get(_receiver(node.value) or "")
            if cls is not None and hasattr(_instances()[cls], node.attr):
                found.setdefault(f"{cls.__name__}.{node.attr}", set()).add(str(path.relative_to(NODE)))
    return found


def _hints(cls: type, name: str) -> dict[str, Any] | None:
    """The annotations of ``cls.name`` (a method's parameters and return, a property's return, an attribute's
    type); None when it has none."""
    member = inspect.getattr_static(cls, name, None)
    if isinstance(member, property):
        member = member.fget
    if inspect.isfunction(member):
        hints = typing.get_type_hints(member)
        params = [p for p in inspect.signature(member).parameters if p != "self"]
        missing = [p for p in [*params, "return"] if p not in hints]
        return None if missing else hints
    for klass in cls.__mro__:
        if name in getattr(klass, "__annotations__", {}):
            return {name: typing.get_type_hints(klass)[name]}
    return None


def _leaks(annotation: Any) -> list[str]:
    """py-evm types in an annotation, and a bare ``Any`` (a handle that hides what it is)."""
    if annotation is Any:
        return ["Any"]
    out = []
    if isinstance(annotation, type) and is_evm_class(annotation):
        out.append(f"{annotation.__module__}.{annotation.__qualname__}")
    for arg in typing.get_args(annotation):
        if arg is not Any:  # Any inside a container (``dict[str, Any]`` of JSON) is a value, not a handle
            out.extend(_leaks(arg))
    return out


def crossings() -> dict[str, str]:
    """``Class.member`` -> what is wrong with it, for every member named outside the chain layer."""
    out: dict[str, str] = {}
    for qualified, modules in sorted(named_members().items()):
        cls_name, name = qualified.split(".")
        cls = Chain if cls_name == "Chain" else CallReader
        if name.startswith("_"):
            out[qualified] = f"private, named by {sorted(modules)}"
            continue
        hints = _hints(cls, name)
        if hints is None:
            out[qualified] = f"not annotated, named by {sorted(modules)}"
            continue
        leaks = sorted({leak for annotation in hints.values() for leak in _leaks(annotation)})
        if leaks:
            out[qualified] = f"{', '.join(leaks)}, named by {sorted(modules)}"
    return out


def test_chain_members_named_outside_the_chain_layer__speak_records() -> None:
    found = crossings()
    unexpected = {k: v for k, v in found.items() if k not in KNOWN_CROSSINGS}
    assert not unexpected, "py-evm crossing out of the chain layer:\n" + "\n".join(
        f"{k}: {v}" for k, v in unexpected.items()
    )
    gone = set(KNOWN_CROSSINGS) - set(found)
    assert not gone, f"no longer crossing, take them off KNOWN_CROSSINGS: {sorted(gone)}"


def test_the_static_guard_sees_what_the_old_api_handed_out() -> None:
    """The checker itself: ``Chain.head`` (a py-evm header, still the chain layer's own) is flagged when named
    from above, and so would be the old ``header_by_hash -> BlockHeaderAPI`` and an unannotated member."""
    assert _leaks(_hints(Chain, "head")["head"]) == ["eth.abc.BlockHeaderAPI"]  # type: ignore[index]
    assert _leaks(Any) == ["Any"]  # what RpcApi._header(ref) -> Any handed around
    assert _hints(Chain, "chaindb") is None  # unannotated: a member named from above must say what it is
    assert _leaks(_hints(Chain, "head_record")["return"]) == []  # type: ignore[index]
    assert "Chain.head_record" in named_members()  # the receivers are recognised (self.chain.x, chain.x)


def test_runtime_guard__flags_a_py_evm_object_in_any_shape(signer: Any) -> None:
    """``boundary.evm_objects`` finds py-evm objects however they are wrapped; records pass."""
    chain = Chain(load_genesis(make_genesis([signer.address], 1337, {})), open_store(None))
    header = chain.head
    assert evm_objects(header) == [type(header).__qualname__]
    assert evm_objects((1, [header])) and evm_objects({"h": header})
    assert evm_objects(dataclasses.make_dataclass("Box", [("inner", Any)])(header))
    assert evm_objects(chain.head_record()) == []
    assert evm_objects(chain.block_record(chain.head_record())) == []


def test_runtime_guard__a_call_from_above_that_hands_out_a_header_is_recorded(signer: Any) -> None:
    """What the guard records when rpc (or any module above the chain layer) meets a py-evm object."""

    chain = Chain(load_genesis(make_genesis([signer.address], 1337, {})), open_store(None))
    seen = Crossings()
    guarded: Any = ChainBoundary(chain, seen)
    namespace = {"__name__": "pamchain.node.rpc.methods", "chain": guarded}
    exec("record = chain.head_record()\nheader = chain.head\nchain._header_by_number(0)", namespace)
    assert isinstance(namespace["record"], HeaderRecord)
    assert [c.split(":")[0] for c in seen.found] == [
        "pamchain.node.rpc.methods got Chain.head",
        "pamchain.node.rpc.methods named Chain._header_by_number",
        "pamchain.node.rpc.methods got Chain._header_by_number(...)",
    ]
    seen.found.clear()
    exec(
        "chain.head\nchain._header_by_number(0)",
        {"__name__": "pamchain.node.chain.queries", "chain": guarded},
    )
    assert seen.found == []  # the chain layer's own use is not a crossing


def test_runtime_guard__covers_p2p_and_sync(genesis_factory: Any, signer: Any) -> None:
    """Two in-process nodes over p2p (the network tests run node processes, out of the guard's reach): the
    follower catches up by sync, then takes a gossiped block; the autouse guard fails this test if the p2p
    service, sync or the core met a py-evm object on the way."""
    doc = genesis_factory()
    with run_node(doc, signer.key, seal_mode="on-demand", p2p_port=free_port()) as sealer:
        sealer.seal()
        sealer.seal()  # blocks one second apart at most 2 s ahead of the clock (core.MAX_SEAL_AHEAD)
        assert sealer.node.p2p is not None
        enode = str(sealer.node.p2p.enode)
        with run_node(doc, None, seal_mode="none", p2p_port=free_port(), bootnodes=(enode,)) as follower:

            def same_head() -> bool:
                return bool(follower.node.chain.head_record() == sealer.node.chain.head_record())

            wait_until(same_head, 30, "catch-up sync")
            time.sleep(1)  # the next block's second
            assert sealer.seal() is not None
            wait_until(same_head, 30, "the gossiped block")
            assert follower.node.chain.head_record().number == 3
