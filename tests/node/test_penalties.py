"""The cool-off of misbehaving peers: doubles per offence up to a cap, ends on time, forgotten after a quiet
hour, one peer's record never touches another's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pamchain.node.p2p.peers import FIRST, FORGET, LONGEST, Penalties

from .test_free_gas_pool import Clock

A, B = b"\xaa" * 64, b"\xbb" * 64


def test_cool_off_doubles_per_offence_up_to_the_cap_and_ends_on_time() -> None:
    clock = Clock()
    penalties = Penalties(clock=clock)
    assert penalties.refusal(A) is None
    cool_offs = []
    for _ in range(10):
        cool_offs.append(penalties.punish(A, "sent an invalid block: bad seal"))
        refusal = penalties.refusal(A)
        assert refusal is not None and "sent an invalid block" in refusal
        clock.now += cool_offs[-1] - 0.01
        assert penalties.refusal(A) is not None  # not a moment early
        clock.now += 0.02
        assert penalties.refusal(A) is None
    assert cool_offs[:4] == [FIRST, 2 * FIRST, 4 * FIRST, 8 * FIRST]
    assert max(cool_offs) == LONGEST and cool_offs[-1] == LONGEST
    assert penalties.refusal(B) is None and penalties.offences(B) == 0


def test_offences_forgotten_after_a_quiet_hour() -> None:
    clock = Clock()
    penalties = Penalties(clock=clock)
    penalties.punish(A, "x")
    penalties.punish(A, "x")
    clock.now += FORGET + 1
    assert penalties.refusal(A) is None
    assert penalties.punish(A, "x") == FIRST  # a first offence again


@given(st.lists(st.floats(min_value=0, max_value=2 * FORGET), max_size=30))
def test_cool_off_is_always_within_bounds(gaps: list[float]) -> None:
    clock = Clock()
    penalties = Penalties(clock=clock)
    for gap in gaps:
        clock.now += gap
        cool_off = penalties.punish(A, "x")
        assert FIRST <= cool_off <= LONGEST
        assert penalties.refusal(A) is not None
