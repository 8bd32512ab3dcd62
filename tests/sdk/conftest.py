"""SDK fixtures: a deployed suite on eth-tester with its cast of actors (see world.py)."""

from __future__ import annotations

import pytest

from support.world import Cast, make_cast


@pytest.fixture
def cast() -> Cast:
    return make_cast()
