"""Suite-wide pytest options: opt-in flags for long runs, hypothesis profiles, how xdist workers share the suite."""

import os
from typing import Any

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


# Under pytest-xdist (`make test` runs `-n auto`) a worker takes a whole group at a time (pyproject's addopts:
# `--dist loadscope`, with the scope below). A file is one group, so its module fixtures (a node process, a
# compiled suite) are built once, as in a serial run; a directory whose session fixture is a whole world (a
# node and Chromium, the CLI's chain) is one group, built by one worker only. (xdist's own `loadgroup` cannot
# do this on pytest 9: it renames items through an attribute pytest 9 no longer reads.)
WHOLE_DIRECTORIES = ("tests/web/", "tests/scripts/")
# Workers take groups in collection order (`--no-loadscope-reorder`): the files that run real processes for
# minutes come first, so that no worker is still on a long file when the other has run out of work.
FIRST = (
    "tests/scripts/",
    "tests/web/",
    "tests/bench/",
    "tests/integration/",
    "tests/node/network/",
    "tests/test_demo.py",
    "tests/test_privacy_scan.py",
)


def group_of(nodeid: str) -> str:
    """The group a test runs in under xdist: its directory if listed above, else its file."""
    path = nodeid.split("::", 1)[0]
    return next((d.rstrip("/") for d in WHOLE_DIRECTORIES if path.startswith(d)), path)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, first in enumerate(FIRST) if path.startswith(first)), len(FIRST))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core and one more, at most 4 (each worker runs its own Samba DC, nodes and
    Chromium). The suite waits on block periods, grant expiries, Samba and Chromium more than it computes: on 2
    cores, 3 workers ran it in 13:54 where 2 took 17:21 (same machine, same hour), every test green."""
    return max(1, min(4, len(os.sched_getaffinity(0)) + 1))


@pytest.hookimpl(tryfirst=True)  # before xdist's own choice of scheduler
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None  # an explicit other --dist on the command line: xdist's own scheduler

    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with our groups as the scopes."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: every worker collects, all in the same order
        items.sort(key=_rank)  # stable: within a rank, collection order
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: opt in with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
