"""The compiled artifacts shipped in ``contracts/compiled/`` are those of the sources beside them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pamchain import contracts
from pamchain.contracts import (
    DEPLOYABLES,
    StaleArtifacts,
    artifacts,
    artifacts_dir,
    compile_suite,
    source_hash,
)


def test_shipped_artifacts__one_per_deployable__built_from_these_sources() -> None:
    files = {path.stem: json.loads(path.read_text()) for path in artifacts_dir().glob("*.json")}
    assert sorted(files) == sorted(DEPLOYABLES), "run `make artifacts`"
    for name, document in files.items():
        assert document["contract"] == name
        assert document["source_sha256"] == source_hash(), f"{name}: sources changed, run `make artifacts`"


def test_shipped_artifacts__equal_a_fresh_compilation() -> None:
    assert dict(artifacts()) == dict(compile_suite())


def test_artifacts__sources_changed__refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contracts, "source_hash", lambda: "00" * 32)
    with pytest.raises(StaleArtifacts, match="make artifacts"):
        artifacts.__wrapped__()


def test_artifacts__missing_file__refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(contracts, "artifacts_dir", lambda: tmp_path)
    with pytest.raises(StaleArtifacts, match="no compiled artifacts"):
        artifacts.__wrapped__()


def test_source_hash__covers_every_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "modules").mkdir()
    (tmp_path / "A.vy").write_text("# a\n")
    (tmp_path / "modules" / "m.vy").write_text("# m\n")
    monkeypatch.setattr(contracts, "source_dir", lambda: tmp_path)
    before = source_hash()
    (tmp_path / "modules" / "m.vy").write_text("# m changed\n")
    assert source_hash() != before
