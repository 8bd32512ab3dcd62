"""Packaging: every source folder with an __init__.py is a listed sub-package, and the data files ship."""

from __future__ import annotations

import tomllib
from pathlib import Path

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


def test_contract_sources_and_data_are_package_data() -> None:
    data = _config()["package-data"]
    assert "*.vy" in data["pamchain.contracts"] and "modules/*.vy" in data["pamchain.contracts"]
    compiled = sorted((ROOT / "contracts" / "compiled").glob("*.json"))
    assert compiled and all(
        any(p.relative_to(ROOT / "contracts").match(pattern) for pattern in data["pamchain.contracts"])
        for p in compiled
    )
    shipped = ROOT / "sdk" / "data" / "breached-passwords.txt"
    assert shipped.exists()
    assert any(shipped.relative_to(ROOT / "sdk").match(pattern) for pattern in data["pamchain.sdk"])


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
