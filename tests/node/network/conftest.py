"""Fixtures for multi-process validator network tests (see cluster.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cluster import Cluster, make_cluster


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Build and start a cluster; every process it started is stopped at teardown (logs shown on failure)."""
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
