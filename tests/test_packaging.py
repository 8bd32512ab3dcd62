"""Packaging: every source folder with an __init__.py is a listed sub-package, the wheel the pinned build
backend builds holds the data files, without a warning, and requirements.lock pins exactly what is needed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_python_package_folder_is_listed() -> None:
    config = _config()
    mapped = {Path(folder): name for name, folder in config["package-dir"].items()}
    found = set()
    for top, name in mapped.items():
        for init in (ROOT / top).rglob("__init__.py"):
            if any(part in {"node_modules", "__pycache__"} for part in init.parts):
                continue
            relative = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *relative.parts]))
    assert found <= set(config["packages"]), (
        f"not listed in pyproject packages: {sorted(found - set(config['packages']))}"
    )
    for package in config["packages"]:
        assert package in config["package-dir"], f"{package} has no package-dir entry"


_BUILD = """
import json, sys, warnings
from setuptools import build_meta
from setuptools.warnings import SetuptoolsWarning

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    wheel = build_meta.build_wheel(sys.argv[1])
said = [str(w.message).strip().splitlines()[0] for w in caught if issubclass(w.category, SetuptoolsWarning)]
print(json.dumps({"wheel": wheel, "warnings": said}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], list[str]]:
    """The wheel setuptools (the pinned build backend) builds from a copy of the sources: its file names and
    the setuptools warnings the build gave."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    skip = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", ".venv", "build", "dist")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in _config()["package-dir"].values():
        if "/" not in folder:
            shutil.copytree(ROOT / folder, source / folder, ignore=skip)
    out = subprocess.run(
        [sys.executable, "-c", _BUILD, str(root / "dist")],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    built = json.loads(out.stdout.strip().splitlines()[-1])
    with zipfile.ZipFile(root / "dist" / built["wheel"]) as archive:
        return set(archive.namelist()), built["warnings"]


def test_wheel__ships_the_contracts_the_compiled_artifacts_the_lists_and_the_phone_app(
    wheel: tuple[set[str], list[str]],
) -> None:
    names, _ = wheel
    expected = [
        *(f"pamchain/contracts/{p.name}" for p in (ROOT / "contracts").glob("*.vy")),
        *(f"pamchain/contracts/modules/{p.name}" for p in (ROOT / "contracts" / "modules").glob("*.vy")),
        *(f"pamchain/contracts/compiled/{p.name}" for p in (ROOT / "contracts" / "compiled").glob("*.json")),
        "pamchain/sdk/data/breached-passwords.txt",
        *(
            f"pamchain/web/static/{p.relative_to(ROOT / 'web' / 'static')}"
            for p in (ROOT / "web" / "static").rglob("*")
            if p.is_file()
        ),
        "pamchain/node/service.py",
        "pamchain/scripts/cli.py",
    ]
    assert len(expected) > 30 and "pamchain/web/static/index.html" in expected
    missing = sorted(set(expected) - names)
    assert not missing, f"not in the wheel: {missing}"


def test_wheel__built_without_a_setuptools_warning(wheel: tuple[set[str], list[str]]) -> None:
    """Each warning setuptools gives is a configuration it will stop accepting (a license as a table: by
    2027-02-18; data folders that look like packages but are not listed)."""
    _, warnings = wheel
    assert warnings == []


def test_build_backend__pinned_and_the_same_in_the_dev_extra() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (backend,) = pyproject["build-system"]["requires"]
    assert backend.startswith("setuptools==")
    assert backend in pyproject["project"]["optional-dependencies"]["dev"]


# -- requirements.lock in step with pyproject.toml ------------------------------------------------------------


def _lock() -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    return pins


def _direct_requirements() -> list:
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    return [Requirement(text) for text in [*project["dependencies"], *(r for extra in extras for r in extra)]]


def _closure() -> dict[str, list[str]]:
    """Every distribution pyproject's requirements pull in, by the installed metadata (each with one path to it)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, list[str]] = {}
    expanded: set[tuple[str, frozenset[str]]] = set()
    todo = [(requirement, ["pyproject.toml"]) for requirement in _direct_requirements()]
    while todo:
        requirement, path = todo.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in expanded:
            continue
        expanded.add(key)
        found.setdefault(name, [*path, name])
        try:
            requires = metadata.distribution(requirement.name).requires or []
        except metadata.PackageNotFoundError:
            continue  # reported by the completeness check below
        for text in requires:
            needed = Requirement(text)
            wanted = [{"extra": extra} for extra in ("", *requirement.extras)]
            if needed.marker is None or any(needed.marker.evaluate(env) for env in wanted):
                todo.append((needed, [*path, name]))
    return found


def test_lock__pins_every_direct_dependency_within_its_specifier() -> None:
    from packaging.utils import canonicalize_name

    pins = _lock()
    for requirement in _direct_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} (pyproject.toml) is not pinned in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject.toml's {requirement}"
        )


def test_lock__holds_what_pyproject_pulls_in_and_nothing_else() -> None:
    """A stray pin (a package nothing of pamchain or its tests requires) fails, and so does a package that
    would be installed unpinned; the check reads the installed metadata, so the venv must match the lock."""
    from importlib import metadata

    pins = _lock()
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        assert installed == version, f"{name}: lock {version}, venv {installed} (run `make install`)"
    closure = _closure()
    stray = sorted(set(pins) - set(closure))
    assert not stray, f"pinned in requirements.lock but required by nothing in pyproject.toml: {stray}"
    unpinned = {name: " -> ".join(path) for name, path in closure.items() if name not in pins}
    assert not unpinned, f"required but not pinned in requirements.lock: {unpinned}"
