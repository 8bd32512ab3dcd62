"""Fixtures for the contract suite: one session compile, one bootstrapped deployment, a snapshot per test.

The deployment is three contracts, all deployed by `world.deployer`: the Council, then PamChain and PamNetwork
bound to it. The deployer is the council's bootstrapper, so it governs both directly until bootstrap ends.
"""

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

from pamkit import BOOTSTRAP_TTL, DAY, PEOPLE, SUSPENDER_ROLE, Actions, Suite, World, bootstrap


@pytest.fixture(scope="session")
def council_deployer() -> Any:
    """The compiled Council deployable (compiled once per session)."""
    return boa.load_partial(str(source_dir() / "Council.vy"))


@pytest.fixture(scope="session")
def pam_deployer() -> Any:
    """The compiled PamChain deployable (compiled once per session)."""
    return boa.load_partial(str(source_dir() / "PamChain.vy"))


@pytest.fixture(scope="session")
def network_deployer() -> Any:
    """The compiled PamNetwork deployable (compiled once per session)."""
    return boa.load_partial(str(source_dir() / "PamNetwork.vy"))


@pytest.fixture(scope="session")
def reviews_deployer() -> Any:
    """The compiled PamReviews deployable (compiled once per session)."""
    return boa.load_partial(str(source_dir() / "PamReviews.vy"))


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
def _suite_base(council_deployer: Any, pam_deployer: Any, network_deployer: Any, world: World) -> Suite:
    """One bootstrapped deployment shared by the session; every test runs in a snapshot of it."""
    with boa.env.prank(world.deployer):
        council = council_deployer.deploy(list(world.council), 2, DAY, BOOTSTRAP_TTL)
        suite = Suite(
            council=council,
            pam=pam_deployer.deploy(council.address),
            network=network_deployer.deploy(council.address),
        )
    bootstrap(suite, world)
    return suite


@pytest.fixture(scope="session")
def _reviews_base(_suite_base: Suite, reviews_deployer: Any, world: World) -> Any:
    """PamReviews bound to the shared deployment's council and PamChain, holding SUSPENDER there (the
    deployer grants it while bootstrapping, as `deploy_plan` does)."""
    with boa.env.prank(world.deployer):
        reviews = reviews_deployer.deploy(_suite_base.council.address, _suite_base.pam.address)
        _suite_base.pam.set_roles(reviews.address, SUSPENDER_ROLE)
    return reviews


@pytest.fixture(autouse=True)
def _isolate() -> Iterator[None]:
    """Every test starts from, and leaves behind, the same chain state."""
    with boa.env.anchor():
        yield


@pytest.fixture
def deploy_council(council_deployer: Any, world: World) -> Callable[..., Any]:
    """Factory: a fresh Council deployed by `world.deployer` (its bootstrapper)."""

    def _deploy(
        members: list[str] | None = None,
        threshold: int = 2,
        ttl: int = DAY,
        bootstrap_ttl: int = BOOTSTRAP_TTL,
        deployer: str | None = None,
    ) -> Any:
        with boa.env.prank(deployer or world.deployer):
            seats = list(world.council) if members is None else members
            return council_deployer.deploy(seats, threshold, ttl, bootstrap_ttl)

    return _deploy


@pytest.fixture
def deploy_pam(pam_deployer: Any, world: World) -> Callable[[str], Any]:
    """Factory: a fresh PamChain bound to the council at `council` (an address), deployed by `world.deployer`."""

    def _deploy(council: str) -> Any:
        with boa.env.prank(world.deployer):
            return pam_deployer.deploy(council)

    return _deploy


@pytest.fixture
def council(_suite_base: Suite) -> Any:
    """The Council of the bootstrapped deployment, still in its bootstrap window."""
    return _suite_base.council


@pytest.fixture
def pam(_suite_base: Suite) -> Any:
    """The bootstrapped PamChain, its council still in the bootstrap window."""
    return _suite_base.pam


@pytest.fixture
def network(_suite_base: Suite) -> Any:
    """The bootstrapped PamNetwork, its council still in the bootstrap window."""
    return _suite_base.network


@pytest.fixture
def reviews(_reviews_base: Any) -> Any:
    """The deployment's PamReviews (SUSPENDER on PamChain), its council still in the bootstrap window."""
    return _reviews_base


@pytest.fixture
def governed(council: Any, pam: Any, world: World) -> Any:
    """The bootstrapped PamChain after `council.end_bootstrap()`: only proposals govern (PamNetwork too)."""
    with boa.env.prank(world.deployer):
        council.end_bootstrap()
    return pam


@pytest.fixture
def act(council: Any, pam: Any, world: World) -> Actions:
    """Flow helpers bound to the bootstrapped deployment."""
    return Actions(council, pam, world)
