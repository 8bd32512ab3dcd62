"""The pamchain Vyper contract suite: its sources and their compilation through vyper's Python API.

``compile_suite()`` compiles every deployable once per process and returns, per deployable name, its ABI, its
creation bytecode and its runtime bytecode. Nothing here imports titanoboa (a dev-only dependency), so the
node, the SDK and the deployment scripts can use it in production.

The suite's constants (request kinds, statuses, end reasons, receipt actions and outcomes, alarm kinds,
principal statuses, the well-known policy targets) are public constants of the deployable and are listed in
``docs/contracts.md``; their Python mirrors belong to the SDK.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypedDict

__all__ = ["DEPLOYABLES", "Artifacts", "compile_suite", "source_dir"]

# The contracts that are deployed; each is a thin composition of the modules under `modules/`.
DEPLOYABLES: tuple[str, ...] = ("Council", "PamChain", "PamNetwork")


class Artifacts(TypedDict):
    """What a deployer or a client needs from one compiled deployable."""

    abi: list[dict[str, Any]]
    bytecode: str  # creation bytecode, 0x-prefixed hex (constructor arguments to be appended)
    bytecode_runtime: str  # deployed code, 0x-prefixed hex


def source_dir() -> Path:
    """The directory holding the deployables' ``.vy`` sources (``modules/`` beneath it)."""
    return Path(__file__).resolve().parent


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
