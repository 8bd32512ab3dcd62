"""The pamchain Vyper contract suite: its sources, their compiled artifacts as shipped, and their compilation.

``artifacts()`` returns, per deployable name, the ABI, creation bytecode and runtime bytecode built once from
the sources and shipped as package data (``compiled/<Name>.json``): what every runtime user (SDK client, CLI, node,
web relay) reads, in milliseconds. ``compile_suite()`` compiles the same from the ``.vy`` sources through
vyper's Python API (seconds; tests and ``python -m pamchain.contracts``, which rewrites ``compiled/``). Nothing
here imports titanoboa (a dev-only dependency), and vyper only when compiling.

The suite's constants (request kinds, statuses, end reasons, receipt actions and outcomes, alarm kinds,
principal statuses, the well-known policy targets) are public constants of the deployable and are listed in
``docs/contracts.md``; their Python mirrors belong to the SDK.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypedDict

__all__ = [
    "DEPLOYABLES",
    "Artifacts",
    "StaleArtifacts",
    "artifacts",
    "artifacts_dir",
    "compile_suite",
    "source_dir",
    "source_hash",
    "write_artifacts",
]

# The contracts that are deployed; each is a thin composition of the modules under `modules/`.
DEPLOYABLES: tuple[str, ...] = ("Council", "PamChain", "PamNetwork", "PamFactors", "PamReviews")


class Artifacts(TypedDict):
    """What a deployer or a client needs from one compiled deployable."""

    abi: list[dict[str, Any]]
    bytecode: str  # creation bytecode, 0x-prefixed hex (constructor arguments to be appended)
    bytecode_runtime: str  # deployed code, 0x-prefixed hex


def source_dir() -> Path:
    """The directory holding the deployables' ``.vy`` sources (``modules/`` beneath it)."""
    return Path(__file__).resolve().parent


class StaleArtifacts(RuntimeError):
    """The shipped artifacts are missing or were built from other sources than the ones beside them."""


def artifacts_dir() -> Path:
    """The directory of the shipped artifacts, one ``<Name>.json`` per deployable."""
    return source_dir() / "compiled"


def source_hash() -> str:
    """sha256 over every Vyper source of the suite (path and content, in path order): what artifacts are from."""
    root = source_dir()
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".vy", ".vyi")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def artifacts() -> MappingProxyType[str, Artifacts]:
    """The shipped artifacts of every deployable (read once per process), checked against the sources' hash so
    that an edited contract is never run with an old ABI: :class:`StaleArtifacts` says to rebuild them."""
    expected = source_hash()
    suite: dict[str, Artifacts] = {}
    for name in DEPLOYABLES:
        path = artifacts_dir() / f"{name}.json"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StaleArtifacts(f"no compiled artifacts at {path}: run `make artifacts`") from exc
        if document.get("source_sha256") != expected:
            raise StaleArtifacts(
                f"{path} was built from other contract sources: run `make artifacts` (python -m pamchain.contracts)"
            )
        suite[name] = Artifacts(
            abi=document["abi"], bytecode=document["bytecode"], bytecode_runtime=document["bytecode_runtime"]
        )
    return MappingProxyType(suite)


def write_artifacts() -> list[Path]:
    """Compile every deployable and (re)write ``compiled/<Name>.json``; returns the files written."""
    from vyper import __version__ as vyper_version

    digest = source_hash()
    folder = artifacts_dir()
    folder.mkdir(exist_ok=True)
    written = []
    for name, compiled in compile_suite().items():
        document = {"contract": name, "source_sha256": digest, "vyper": vyper_version, **compiled}
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    for stale in set(folder.glob("*.json")) - set(written):  # a deployable that was removed
        stale.unlink()
    artifacts.cache_clear()
    return written


@functools.cache
def compile_suite() -> MappingProxyType[str, Artifacts]:
    """Compile every deployable (cached for the process) and return its artifacts by name.

    The evm version and optimisation level come from the sources' pragmas, so this, the ``vyper`` CLI and
    titanoboa all produce the same bytecode.
    """
    from vyper.compiler import compile_from_file_input
    from vyper.compiler.input_bundle import FilesystemInputBundle

    root = source_dir()
    bundle = FilesystemInputBundle([root])
    suite: dict[str, Artifacts] = {}
    for name in DEPLOYABLES:
        file_input = bundle.load_file(root / f"{name}.vy")
        out = compile_from_file_input(
            file_input, input_bundle=bundle, output_formats=["abi", "bytecode", "bytecode_runtime"]
        )
        suite[name] = Artifacts(
            abi=out["abi"], bytecode=out["bytecode"], bytecode_runtime=out["bytecode_runtime"]
        )
    return MappingProxyType(suite)
