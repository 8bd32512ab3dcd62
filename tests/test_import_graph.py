"""The import graph of the product, bench and tests has no cycle, and the node's layers import one way down.

Built statically from every ``import``/``from`` statement (``ast``), wherever it stands: at the top, inside a
function or under ``TYPE_CHECKING`` - a deferred import hides a cycle, it does not remove it. Importing a
submodule is not counted as importing its parent package's ``__init__`` (every checker makes that choice;
otherwise any package whose ``__init__`` re-exports would be one big cycle).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Container, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Folder -> the module name it is imported as (pyproject.toml maps the product's folders under ``pamchain``).
PACKAGES = {
    "node": "pamchain.node",
    "sdk": "pamchain.sdk",
    "scripts": "pamchain.scripts",
    "contracts": "pamchain.contracts",
    "devnet": "pamchain.devnet",
    "web": "pamchain.web",
    "bench": "bench",
    "support": "support",
    "tests": "tests",
}
SKIP_DIRS = {"node_modules", "__pycache__", ".venv", "static", "src"}

# Cycles outside the node that exist today. This allowance only ever shrinks: a listed cycle that no longer
# exists fails the test, so that it is taken off the list. (Issue 14 item 4 removed scripts.demo <-> devnet,
# bench.run -> node_throughput -> scale, tests.integration.conftest <-> oracle_world.)
KNOWN_CYCLES: set[frozenset[str]] = set()
# The same between the top-level packages (``pamchain.node``, ``bench``, ...). bench <-> tests is gone: what
# both need is in support/, which imports neither.
KNOWN_PACKAGE_CYCLES: set[frozenset[str]] = set()

# The node's layers, lowest first: a module may import its own layer and the ones below, never above.
# rpc and p2p share a layer but do not import each other.
NODE_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "errors",
            "records",
            "genesis",
            "calls",
            "trie_nodes",
            "ordered_trie",
            "bulk_trie",
            "state_diff",
            "block_rows",
            "receipt_blobs",
            "metrics",
            "keys",
        ),
    ),
    ("storage", ("storage",)),
    ("consensus", ("consensus", "finality")),
    ("chain", ("chain", "chainfile")),
    ("interfaces", ("abc", "events")),
    ("core", ("txpool", "free_gas", "core", "sealing", "sync", "node_rules")),
    ("rpc / p2p", ("rpc", "p2p")),
    ("service", ("service", "cli", "__init__", "__main__")),
]
# Only these node modules may touch py-evm (``eth``): everything else speaks in records (node/records.py).
PY_EVM_ALLOWED = ("chain", "consensus", "finality", "storage", "ordered_trie")


def _files() -> Iterator[tuple[str, Path]]:
    for folder, package in PACKAGES.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            if SKIP_DIRS.intersection(path.relative_to(base).parts[:-1]):
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([package, *parts]), path


def _imports(module: str, path: Path, known: Container[str] = ()) -> Iterator[str]:
    """Every module name ``module`` imports: ``from X import Y`` is ``X.Y`` when that is a module in ``known``,
    else ``X`` (Y is a name in X); names outside ``known`` are resolved to a known prefix by the caller."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


@functools.cache
def build_graph() -> dict[str, set[str]]:
    files = dict(_files())
    graph: dict[str, set[str]] = {name: set() for name in files}
    for module, path in files.items():
        for target in _imports(module, path, files):
            # The longest known prefix: ``pamchain.node.errors.NodeError`` -> ``pamchain.node.errors``.
            name = target
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the component's first module, for the failure message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return component


def _node_layer(module: str) -> tuple[int, str] | None:
    if module == "pamchain.node":
        return len(NODE_LAYERS) - 1, "__init__"
    if not module.startswith("pamchain.node."):
        return None
    first = module.split(".")[2]
    for rank, (_name, members) in enumerate(NODE_LAYERS):
        if first in members:
            return rank, first
    raise AssertionError(f"{module} is in no layer of NODE_LAYERS: place it there")


def test_no_import_cycle() -> None:
    graph = build_graph()
    components = {frozenset(c): c for c in strongly_connected(graph)}
    new = [c for key, c in components.items() if key not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join(" -> ".join(a_cycle(graph, c)) for c in new)
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in components]
    assert not gone, f"these allowed cycles are gone (or changed): take them off KNOWN_CYCLES: {gone}"


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2]) if module.startswith("pamchain.") else module.split(".")[0]


def test_no_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in build_graph().items():
        mine = packages.setdefault(_package(module), set())
        mine.update(_package(t) for t in targets if _package(t) != _package(module))
    components = {frozenset(c): c for c in strongly_connected(packages)}
    new = [c for key, c in components.items() if key not in KNOWN_PACKAGE_CYCLES]
    assert not new, "package cycles:\n" + "\n".join(" -> ".join(a_cycle(packages, c)) for c in new)
    gone = [sorted(c) for c in KNOWN_PACKAGE_CYCLES if c not in components]
    assert not gone, f"these allowed cycles are gone: take them off KNOWN_PACKAGE_CYCLES: {gone}"


def test_node_layers_point_down() -> None:
    graph = build_graph()
    wrong = []
    for module, targets in sorted(graph.items()):
        mine = _node_layer(module)
        if mine is None:
            continue
        for target in sorted(targets):
            if target.startswith("pamchain.scripts"):
                wrong.append(f"{module} -> {target} (the node never imports the CLI)")
            theirs = _node_layer(target)
            if theirs is None:
                continue
            if theirs[0] > mine[0]:
                above = NODE_LAYERS[theirs[0]][0]
                wrong.append(f"{module} -> {target} ({above} is above {NODE_LAYERS[mine[0]][0]})")
            elif {mine[1], theirs[1]} == {"rpc", "p2p"}:
                wrong.append(f"{module} -> {target} (rpc and p2p do not import each other)")
    assert not wrong, "imports against the node's layering:\n" + "\n".join(wrong)


def test_storage_imports_nothing_above_it() -> None:
    graph = build_graph()
    above = ("pamchain.node.rpc", "pamchain.node.p2p", "pamchain.node.chain", "pamchain.node.service")
    assert not [t for t in graph["pamchain.node.storage"] if t.startswith(above)]


def test_py_evm_stays_in_the_chain_layer() -> None:
    leaks = []
    for module, path in _files():
        layer = _node_layer(module)
        if layer is None or layer[1] in PY_EVM_ALLOWED:
            continue
        for target in _imports(module, path):
            if target == "eth" or target.startswith("eth."):
                leaks.append(f"{module} imports {target}")
    assert not leaks, "py-evm outside the chain layer:\n" + "\n".join(sorted(set(leaks)))


def test_graph_sees_deferred_and_relative_imports() -> None:
    """The checker itself: a function-level import and a relative import are edges."""
    graph = build_graph()
    assert "pamchain.node.service" in graph["pamchain.node.cli"]  # imported inside a command function
    assert "pamchain.node.chain.base" in graph["pamchain.node.chain.queries"]  # ``from .base import``
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
