"""Backups of a site's state in one archive: consistent online snapshots of SQLite stores, plain files copied.

A backup is a ``tar.gz`` holding ``manifest.json`` (format, time, every file with its size and SHA-256) and one
folder per *part* (a node's datadir, an oracle journal, a payload store's folder, a notifier journal). SQLite
files are copied with SQLite's online backup API in one step, so the copy is one consistent snapshot even while
the service writes (WAL readers never block writers); WAL and shared-memory side files are never copied.
Restoring verifies every hash and SQLite's integrity check before anything is written, and refuses to replace
existing state unless asked. The archive is written with mode 0600: it holds node keys and journals.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pamchain.sdk.errors import SdkError

FORMAT = "pamchain-backup/1"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(SdkError):
    """A backup could not be made, read, verified or restored; the message says what and where."""


@dataclass(frozen=True)
class Part:
    """One service's state: ``root`` (a folder or a single file) and, for a folder, the glob patterns of the
    files that make its state (relative to it)."""

    name: str
    root: Path
    include: tuple[str, ...] = ("*",)

    def files(self) -> Iterator[tuple[Path, str]]:
        """(absolute path, archive-relative name) of each file to save, side files excluded."""
        if self.root.is_file():
            yield self.root, self.root.name
            return
        if not self.root.is_dir():
            raise BackupError(f"{self.name}: {self.root} does not exist")
        seen: set[Path] = set()
        for pattern in self.include:
            for path in sorted(self.root.glob(pattern)):
                if path.is_file() and not path.name.endswith(_SIDE_FILES) and path not in seen:
                    seen.add(path)
                    yield path, path.relative_to(self.root).as_posix()


@dataclass(frozen=True)
class Manifest:
    """What an archive holds."""

    created: float
    # part -> {"single": its root was one file, "files": relative name -> {size, sha256, sqlite}}
    parts: Mapping[str, Mapping[str, Any]]

    def files(self, part: str) -> Mapping[str, Mapping[str, Any]]:
        return dict(self.parts[part]["files"])

    def to_json(self) -> str:
        return json.dumps(
            {"format": FORMAT, "created": self.created, "parts": self.parts}, indent=1, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise BackupError(f"not a {FORMAT} archive (format {data.get('format')!r})")
        return cls(float(data["created"]), data["parts"])


def create(parts: Iterable[Part], out: Path) -> Manifest:
    """Snapshot every part into the archive ``out`` (written to a temporary name, then renamed)."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="pamchain-backup-") as tmp:
        staging = Path(tmp)
        listing: dict[str, dict[str, Any]] = {}
        for part in parts:
            if part.name in listing or "/" in part.name or part.name in ("", ".", ".."):
                raise BackupError(f"bad or repeated part name {part.name!r}")
            entries: dict[str, dict[str, Any]] = {}
            for source, relative in part.files():
                target = staging / part.name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                is_sqlite = _is_sqlite(source)
                if is_sqlite:
                    _snapshot(source, target)
                else:
                    shutil.copyfile(source, target)
                entries[relative] = {
                    "size": target.stat().st_size,
                    "sha256": _sha256(target),
                    "sqlite": is_sqlite,
                }
            listing[part.name] = {"single": part.root.is_file(), "files": entries}
        manifest = Manifest(time.time(), listing)
        (staging / "manifest.json").write_text(manifest.to_json())
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            archive.add(staging / "manifest.json", arcname="manifest.json")
            for name in listing:
                archive.add(staging / name, arcname=name)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    return manifest


def verify(archive: Path) -> Manifest:
    """Check every file of ``archive`` against its manifest and every SQLite copy's integrity."""
    with _unpacked(archive) as (manifest, _root):
        return manifest


def restore(archive: Path, targets: Mapping[str, Path], *, force: bool = False) -> Manifest:
    """Put the named parts back: ``targets`` maps a part to its folder (or, for a single-file part, its file).

    Everything is verified first; a target that already holds state is refused unless ``force`` (then its
    files of the same names, and their SQLite side files, are replaced).
    """
    with _unpacked(archive) as (manifest, root):
        unknown = sorted(set(targets) - set(manifest.parts))
        if unknown:
            raise BackupError(
                f"the archive has no part {', '.join(unknown)} (it has {', '.join(manifest.parts)})"
            )
        plan: list[tuple[Path, Path]] = []
        for name, target in targets.items():
            single = bool(manifest.parts[name]["single"])
            for relative in manifest.files(name):
                destination = target if single else target / relative
                if destination.exists() and not force:
                    raise BackupError(
                        f"{name}: {destination} exists; restore into an empty place, or force it"
                    )
                plan.append((root / name / relative, destination))
        for source, destination in plan:
            destination.parent.mkdir(parents=True, exist_ok=True)
            for suffix in _SIDE_FILES:
                with contextlib.suppress(FileNotFoundError):
                    destination.with_name(destination.name + suffix).unlink()
            partial = destination.with_name(destination.name + ".restoring")
            shutil.copyfile(source, partial)
            partial.chmod(0o600)
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, destination)
        return manifest


@contextlib.contextmanager
def _unpacked(archive: Path) -> Iterator[tuple[Manifest, Path]]:
    try:
        bundle = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"cannot read backup {archive}: {exc}") from exc
    with bundle, tempfile.TemporaryDirectory(prefix="pamchain-restore-") as tmp:
        root = Path(tmp)
        try:
            member = bundle.getmember("manifest.json")
            manifest = Manifest.from_json(bundle.extractfile(member).read().decode())  # type: ignore[union-attr]
            expected = {f"{name}/{relative}" for name in manifest.parts for relative in manifest.files(name)}
            for item in bundle.getmembers():
                if item.isdir() or item.name == "manifest.json":
                    continue
                if item.name not in expected or not item.isfile() or PurePosixPath(item.name).is_absolute():
                    raise BackupError(f"unexpected entry {item.name!r} in {archive}")
            bundle.extractall(root, filter="data")
        except (KeyError, ValueError, tarfile.TarError) as exc:
            raise BackupError(f"{archive} is not a readable pamchain backup: {exc}") from exc
        for name in manifest.parts:
            for relative, facts in manifest.files(name).items():
                path = root / name / relative
                if not path.is_file() or _sha256(path) != facts["sha256"]:
                    raise BackupError(f"{archive}: {name}/{relative} is missing or does not match its hash")
                if facts.get("sqlite"):
                    _integrity(path)
        yield manifest, root


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _snapshot(source: Path, target: Path) -> None:
    """One consistent copy of a live SQLite database (its WAL content included), in a single backup step."""
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no side files
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot snapshot {source}: {exc}") from exc
    _integrity(target)


def _integrity(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path.name} is not a sound SQLite database: {exc}") from exc
    if result != "ok":
        raise BackupError(f"{path.name} fails SQLite's integrity check: {result}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
