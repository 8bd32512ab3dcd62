"""``pamchain backup`` / ``pamchain restore``: one archive of a site's state, made online, restored verified."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .options import emit, json_option

# What a node's datadir holds (docs/operations.md): its genesis, the chain store and the p2p identity. Named
# here rather than imported, so that every CLI command does not load py-evm; tests/scripts/test_backup.py
# checks them against the node's own constants.
NODE_FILES = ("genesis.json", "chain.sqlite", "nodekey")
# A payload store's folder: payload files, its index and its id (docs/oracle.md).
PAYLOAD_FILES = ("*",)

_PARTS = (
    ("node", "--node-datadir", "a validator's or node's datadir (chain store and node key)", NODE_FILES),
    ("keystore", "--keystore-file", "a signer keystore file (encrypted)", None),
    ("oracle-journal", "--oracle-journal", "an oracle's journal file", None),
    ("payload-store", "--payload-store-dir", "a payload store's data folder", PAYLOAD_FILES),
    ("notify-journal", "--notify-journal", "a notifier's journal file", None),
)


def _part_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for name, flag, what, _files in reversed(_PARTS):
        function = click.option(
            flag, name.replace("-", "_"), type=click.Path(path_type=Path), help=f"Include/restore {what}."
        )(function)
    return function


def _chosen(values: dict[str, Path | None]) -> dict[str, Path]:
    chosen = {name: values[name.replace("-", "_")] for name, *_ in _PARTS}
    return {name: path for name, path in chosen.items() if path is not None}


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (.tar.gz).",
)
@_part_options
@json_option
def backup(out: Path, **values: Path | None) -> None:
    """Snapshot services' state online (SQLite stores copied consistently while they run) into one archive.

    The archive holds node keys and journals: it is written mode 0600; keep it on encrypted storage.
    """
    from pamchain.sdk.backup import Part, create

    chosen = _chosen(values)
    if not chosen:
        raise click.UsageError("name at least one thing to back up (--node-datadir, --oracle-journal, ...)")
    patterns = {name: files for name, _flag, _what, files in _PARTS}
    parts = [Part(name, path, patterns[name] or ("*",)) for name, path in chosen.items()]
    manifest = create(parts, out)
    counts = {name: len(manifest.files(name)) for name in manifest.parts}
    emit(
        {"archive": str(out), "created": manifest.created, "files": counts},
        [f"backup {out}: " + ", ".join(f"{name} ({n} files)" for name, n in counts.items())],
    )


@click.command()
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_part_options
@click.option("--force", is_flag=True, help="Replace state that is already there (stop the service first).")
@click.option("--check-only", is_flag=True, help="Only verify the archive (hashes, SQLite integrity).")
@json_option
def restore(archive: Path, force: bool, check_only: bool, **values: Path | None) -> None:
    """Verify ARCHIVE, then put the named parts back (each in an empty place unless --force)."""
    from pamchain.sdk.backup import restore as restore_archive
    from pamchain.sdk.backup import verify

    chosen = _chosen(values)
    if check_only:
        manifest = verify(archive)
    else:
        if not chosen:
            raise click.UsageError(
                "name where to restore (--node-datadir, --oracle-journal, ...), or --check-only"
            )
        manifest = restore_archive(archive, chosen, force=force)
    emit(
        {
            "archive": str(archive),
            "created": manifest.created,
            "parts": sorted(manifest.parts),
            "restored": sorted(chosen),
        },
        [f"{archive}: verified ({', '.join(sorted(manifest.parts))})"]
        + [f"  restored {name} -> {chosen[name]}" for name in sorted(chosen) if not check_only],
    )
