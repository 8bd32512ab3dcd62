"""Journal retention and erasure: old evidence goes, a person's links to AD can be forgotten, and neither
lets an action run twice."""

from __future__ import annotations

import time
from pathlib import Path

from pamchain.sdk.chain.actions import DirectoryAction
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.oracle.journal import EVIDENCE_RETENTION, Journal

ALICE, BOB = b"a" * 32, b"b" * 32
GUID = bytes(range(16))


def _reported(journal: Journal, request_id: int, subject: bytes) -> DirectoryAction:
    action = DirectoryAction(request_id, Action.UNLOCK, subject, b"t" * 32, b"d" * 32, b"", 0)
    journal.record([action], request_id, f"0x{request_id:064x}")
    journal.mark_applied(request_id, Action.UNLOCK, Outcome.APPLIED, b"h" * 32, "lockoutTime=0 on CN=alice")
    journal.mark_reported(request_id, Action.UNLOCK, "0xtx")
    return action


def test_prune__old_evidence_dropped__action_kept_and_never_rerecorded(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    action = _reported(journal, 1, ALICE)
    assert journal.prune(time.time()).evidence == 0  # recent: kept
    assert journal.evidence(1, Action.UNLOCK) == "lockoutTime=0 on CN=alice"
    pruned = journal.prune(time.time() + EVIDENCE_RETENTION + 1)
    assert pruned.evidence == 1 and journal.evidence(1, Action.UNLOCK) is None
    entry = journal.get(1, Action.UNLOCK)
    assert entry is not None and entry.state == "reported"
    assert journal.record([action], 2, "0x" + "00" * 32) == 0  # idempotency survives retention


def test_forget__drops_binding_history_and_evidence_of_that_person_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    _reported(journal, 1, ALICE)
    _reported(journal, 2, BOB)
    journal.bind(ALICE, GUID)
    journal.remember_password(GUID, b"s" * 16, b"d" * 32, keep=5)
    assert journal.forget(ALICE) == 3
    assert journal.binding(ALICE) is None and journal.password_digests(GUID) == []
    assert journal.evidence(1, Action.UNLOCK) is None
    assert journal.evidence(2, Action.UNLOCK) is not None  # bob's record untouched
    assert journal.get(1, Action.UNLOCK) is not None  # the pseudonymous row stays: no re-run
    assert journal.forget(ALICE) == 0
