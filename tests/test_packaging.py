"""Packaging: every source folder with an __init__.py is a listed sub-package, and the data files ship."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:  # type: ignore[type-arg]
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
    shipped = ROOT / "sdk" / "data" / "breached-passwords.txt"
    assert shipped.exists()
    assert any(shipped.relative_to(ROOT / "sdk").match(pattern) for pattern in data["pamchain.sdk"])
