"""The oracle journal under crashes: a hypothesis state machine reopening the file between any two steps."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pamchain.sdk.chain.actions import DirectoryAction
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.oracle.journal import Journal, ScheduledGrant

ACTIONS = st.builds(
    DirectoryAction,
    request_id=st.integers(1, 12),
    action=st.sampled_from(list(Action)),
    subject=st.just(b"s" * 32),
    target=st.just(b"t" * 32),
    domain=st.just(b"d" * 32),
    payload_hash=st.just(b""),
    expiry=st.integers(0, 100),
)


class JournalMachine(RuleBasedStateMachine):
    """The model: the set of keys recorded, their state, and the checkpoint."""

    @initialize()
    def open(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "journal.sqlite3"
        self.journal = Journal(self.path)
        self.states: dict[tuple[int, int], str] = {}
        self.checkpoint = -1

    def teardown(self) -> None:
        self.journal.close()
        self.dir.cleanup()

    @rule(actions=st.lists(ACTIONS, max_size=5), advance=st.integers(0, 3))
    def record(self, actions: list[DirectoryAction], advance: int) -> None:
        block = self.checkpoint + advance
        added = self.journal.record(actions, block, f"0x{block:064x}")
        new = {a.key for a in actions} - set(self.states)
        assert added == len(new)
        for key in new:
            self.states[key] = "pending"
        self.checkpoint = block

    @rule(data=st.data())
    @precondition(lambda self: any(s == "pending" for s in self.states.values()))
    def apply(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, s in self.states.items() if s == "pending")))
        self.journal.mark_applied(
            key[0], Action(key[1]), data.draw(st.sampled_from(list(Outcome))), b"h" * 32
        )
        self.states[key] = "applied"

    @rule(data=st.data())
    @precondition(lambda self: any(s == "applied" for s in self.states.values()))
    def report(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(k for k, s in self.states.items() if s == "applied")))
        self.journal.mark_reported(key[0], Action(key[1]), "0xabc")
        self.states[key] = "reported"

    @rule(now=st.integers(0, 120))
    def expire(self, now: int) -> None:
        for grant in self.journal.expired_grants(now):
            assert isinstance(grant, ScheduledGrant) and grant.expiry <= now
            key = (grant.request_id, int(Action.REMOVE_MEMBER))
            assert self.journal.ensure_removal(grant) == (key not in self.states)
            self.states.setdefault(key, "pending")

    @rule()
    def crash_and_reopen(self) -> None:
        self.journal.close()  # the next process sees only what was committed
        self.journal = Journal(self.path)

    @rule()
    def applying_twice_is_a_no_op(self) -> None:
        for key, state in self.states.items():
            if state != "pending":
                self.journal.mark_applied(key[0], Action(key[1]), Outcome.FAILED, b"x" * 32)
                entry = self.journal.get(key[0], Action(key[1]))
                assert entry is not None and entry.state == state

    @invariant()
    def journal_matches_model(self) -> None:
        if not hasattr(self, "journal"):
            return
        for state in ("pending", "applied", "reported"):
            assert self.journal.count(state) == sum(1 for s in self.states.values() if s == state)
        checkpoint = self.journal.checkpoint()
        assert (checkpoint[0] if checkpoint else -1) == self.checkpoint


TestJournal = JournalMachine.TestCase
