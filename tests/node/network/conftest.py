"""Fixtures for multi-process validator network tests (see cluster.py)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cluster import Cluster, make_cluster

# A failed test's node logs are copied here (one folder per test), so that they outlive pytest's temporary
# directories - a CI job's workspace, a flake that does not come back on a rerun. Override with the variable.
KEEP_LOGS = Path(os.environ.get("PAMCHAIN_NODE_LOGS", Path(__file__).parents[3] / ".test-logs"))
TAIL_LINES = 60


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Remember each phase's outcome on the item, for the fixture's teardown to see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call")
    )


def keep_logs(clusters: list[Cluster], nodeid: str) -> Path:
    """Copy every cluster's node logs (and genesis) to a folder named after the test; returns the folder."""
    target = KEEP_LOGS / re.sub(r"[^\w.-]+", "_", nodeid)
    shutil.rmtree(target, ignore_errors=True)
    for n, cluster in enumerate(clusters):
        dest = target / f"net{n}"
        dest.mkdir(parents=True, exist_ok=True)
        for log in (*cluster.root.glob("*.log"), cluster.root / "genesis.json"):
            if log.exists():
                shutil.copy2(log, dest / log.name)
    return target


@pytest.fixture
def cluster_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """Build and start a cluster; every process it started is stopped at teardown; on failure the node logs
    are kept (``KEEP_LOGS``) and their tails printed in the test's report."""
    made: list[Cluster] = []

    def build(size: int, start: bool = True, **options: Any) -> Cluster:
        cluster = make_cluster(tmp_path / f"net{len(made)}", size, **options)
        made.append(cluster)
        if start:
            for m in cluster.members:
                cluster.start(m, wait=False)
            for m in cluster.members:
                cluster.wait_up(m)
        return cluster

    yield build
    for cluster in made:
        cluster.stop_all()
    if made and _failed(request):
        kept = keep_logs(made, request.node.nodeid)
        print(f"\nnode logs kept in {kept}")
        for cluster in made:
            for m in cluster.members:
                print(f"--- node {m.index} ({m.signer.address}), last {TAIL_LINES} lines ---")
                print(cluster.tail(m, TAIL_LINES))
