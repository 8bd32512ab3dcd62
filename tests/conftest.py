"""Suite-wide pytest options: opt-in flags for long runs, hypothesis profiles."""

import os

import pytest
from hypothesis import HealthCheck, settings

# CI runs the bounded profile; `PAMCHAIN_HYPOTHESIS_PROFILE=long` (or --run-slow) runs the 10k-step one.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run tests marked slow (soak, big runs)"
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = os.environ.get("PAMCHAIN_HYPOTHESIS_PROFILE")
    if profile is None:
        profile = "long" if config.getoption("--run-slow") else "ci"
    settings.load_profile(profile)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: opt in with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
