"""Fixtures for the contract suite: one session compile, one bootstrapped deployment, a snapshot per test."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boa
import pytest
from pamchain.contracts import source_dir

# Tests import their shared vocabulary as `pamkit`; the import mode may not put this folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pamkit import BOOTSTRAP_TTL, DAY, PEOPLE, Actions, World, bootstrap


@pytest.fixture(scope="session")
def pam_deployer() -> Any:
    """The compiled PamChain deployable (compiled once per session)."""
    return boa.load_partial(str(source_dir() / "PamChain.vy"))


@pytest.fixture(scope="session")
def world() -> World:
    """Named accounts; deterministic across runs."""
    gen = boa.env.generate_address
    return World(
        deployer=gen("deployer"),
        council=(gen("council0"), gen("council1"), gen("council2")),
        oracle=gen("oracle"),
        other_oracle=gen("other_oracle"),
        operator=gen("operator"),
        stranger=gen("stranger"),
        devices={name: gen(f"device:{name}") for name in PEOPLE},
    )


@pytest.fixture(scope="session")
def _pam_base(pam_deployer: Any, world: World) -> Any:
    """One bootstrapped deployment shared by the session; every test runs in a snapshot of it."""
    with boa.env.prank(world.deployer):
        contract = pam_deployer.deploy(list(world.council), 2, DAY, BOOTSTRAP_TTL)
    bootstrap(contract, world)
    return contract


@pytest.fixture(autouse=True)
def _isolate() -> Iterator[None]:
    """Every test starts from, and leaves behind, the same chain state."""
    with boa.env.anchor():
        yield


@pytest.fixture
def deploy(pam_deployer: Any, world: World) -> Callable[..., Any]:
    """Factory: a fresh PamChain deployed by `world.deployer` (not bootstrapped)."""

    def _deploy(
        members: list[str] | None = None,
        threshold: int = 2,
        ttl: int = DAY,
        bootstrap_ttl: int = BOOTSTRAP_TTL,
    ) -> Any:
        with boa.env.prank(world.deployer):
            council = list(world.council) if members is None else members
            return pam_deployer.deploy(council, threshold, ttl, bootstrap_ttl)

    return _deploy


@pytest.fixture
def pam(_pam_base: Any) -> Any:
    """The bootstrapped deployment, still in its bootstrap window."""
    return _pam_base


@pytest.fixture
def governed(pam: Any, world: World) -> Any:
    """The bootstrapped deployment after end_bootstrap: only proposals govern."""
    with boa.env.prank(world.deployer):
        pam.end_bootstrap()
    return pam


@pytest.fixture
def act(pam: Any, world: World) -> Actions:
    """Flow helpers bound to the bootstrapped deployment."""
    return Actions(pam, world)
