"""Applies journalled actions to the directory, removals first, each read back before it counts as done.

Two lanes: removals (a grant that ended must leave AD on time, so they never wait behind anything and are
retried until AD confirms them) and the rest (unlocks, additions, resets: retried with capped backoff, then
reported FAILED). A failing action only defers itself. Every outcome carries the evidence read back from
AD; the receipt's detail hash commits to it. Actions are bound to the account's objectGUID, never to a name.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from pamchain.sdk.chain.model import Action, Outcome
from pamchain.sdk.directory import (
    AccountNotFound,
    AccountRef,
    Directory,
    DirectoryError,
    DirectoryIdNotFound,
    DirectoryUnavailable,
    GroupNotFound,
    GroupRef,
    IdResolver,
    PasswordRejected,
    StaticIdMap,
)
from pamchain.sdk.directory.password_policy import PasswordPolicy
from pamchain.sdk.oracle.errors import NotConfirmed, PermanentFailure
from pamchain.sdk.oracle.journal import Journal, JournalEntry
from pamchain.sdk.oracle.password_history import PasswordHistory
from pamchain.sdk.payloads.sealed import PayloadError, open_password

log = logging.getLogger("pamchain.oracle.executor")

REMOVAL = "removal"
OTHER = "other"


@dataclass(frozen=True, slots=True)
class Retry:
    """Backoff for failed attempts: ``base * 2**attempt`` capped at ``cap``, with jitter.

    ``max_attempts`` bounds unlocks, additions and resets (then FAILED); None retries until done.
    """

    max_attempts: int | None = 8
    base: float = 0.5
    cap: float = 30.0

    def defer(self, attempt: int) -> float:
        delay: float = min(self.cap, self.base * (2 ** min(max(attempt - 1, 0), 30)))
        return delay * (0.5 + random.random() / 2)

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts


# Removals are retried until AD confirms them, at most a second apart: done within a second of AD's return.
REMOVAL_RETRY = Retry(max_attempts=None, base=0.1, cap=1.0)


def evidence_hash(evidence: str) -> bytes:
    """What goes on chain about an outcome: the hash of its read-back evidence, kept in the journal."""
    return keccak(text=evidence)


class PayloadSource:
    """Where the executor gets a sealed password payload and how it opens it (see ``sealed``)."""

    def __init__(self, fetch: Callable[[bytes], bytes], private_key: object) -> None:
        self.fetch = fetch
        self.private_key = private_key

    def password(self, payload_hash: bytes, subject: bytes) -> str:
        ciphertext = self.fetch(payload_hash)
        if keccak(ciphertext) != payload_hash:
            raise PermanentFailure("payload does not match the hash on chain")
        try:
            return open_password(self.private_key, ciphertext, subject)  # type: ignore[arg-type]
        except PayloadError as exc:
            raise PermanentFailure(str(exc)) from exc


class Executor:
    """Turns pending journal entries into AD changes, read back, and outcomes in the journal."""

    def __init__(
        self,
        directory: Directory,
        journal: Journal,
        resolver: IdResolver,
        groups: StaticIdMap,
        *,
        payloads: PayloadSource | None = None,
        password_policy: PasswordPolicy | None = None,
        retry: Retry = Retry(),
        removal_retry: Retry = REMOVAL_RETRY,
        clock: Callable[[], float] = time.time,
        principal_active: Callable[[bytes], bool] | None = None,
        dc_id: bytes = b"",
        receipted: Callable[[int, Action], Any] | None = None,
    ) -> None:
        self.directory = directory
        # Another oracle of the domain may have acted first: its receipt settles the action (first one wins).
        self.receipted = receipted
        # Suspension does not withdraw an approved unlock or reset on chain: the oracle checks before acting.
        self.principal_active = principal_active
        self.journal = journal
        self.resolver = resolver
        self.groups = groups
        self.payloads = payloads
        self.password_policy = password_policy or PasswordPolicy()
        self.retry = retry
        self.removal_retry = removal_retry
        self.clock = clock
        self.dc_id = dc_id
        self.history = PasswordHistory(journal)

    # -- lanes ---------------------------------------------------------------------------------------------

    def schedule_expiries(self) -> int:
        """Journal the removal of every grant whose expiry has passed, from the local clock alone."""
        scheduled = 0
        for grant in self.journal.expired_grants(self.clock()):
            if self.journal.ensure_removal(grant):
                scheduled += 1
                log.info(
                    "grant expired, removal scheduled",
                    extra={"request_id": grant.request_id, "expiry": grant.expiry},
                )
        return scheduled

    def run_removals(self, limit: int = 100) -> int:
        """The removal lane: schedule expiries, then apply every due removal; returns how many finished."""
        self.schedule_expiries()
        done = 0
        for entry in self.journal.due("pending", self.clock(), limit, lane=REMOVAL):
            done += self.apply(entry)
        return done

    def run_due(self, limit: int = 100, *, lane: str | None = None) -> int:
        """Apply what is due; with no ``lane``, removals first and again before each other action, so a
        grant that expires meanwhile never waits behind an unlock or a reset. Returns how many finished."""
        done = self.run_removals(limit) if lane in (None, REMOVAL) else 0
        if lane in (None, OTHER):
            for entry in self.journal.due("pending", self.clock(), limit, lane=OTHER):
                if lane is None:
                    done += self.run_removals(limit)
                done += self.apply(entry)
        return done

    # -- one action ----------------------------------------------------------------------------------------

    def apply(self, entry: JournalEntry) -> bool:
        """One attempt; True when the action reached its outcome (applied, or failed for good)."""
        item = entry.action
        removal = item.action is Action.REMOVE_MEMBER
        if not removal and self._stand_down(entry):
            return True
        try:
            observed = self._do(entry)
            outcome = Outcome.APPLIED
        except PermanentFailure as exc:
            observed, outcome = {"failed": str(exc)}, Outcome.FAILED
        except PasswordRejected as exc:
            observed, outcome = {"failed": _safe_reason(exc)}, Outcome.FAILED
        except Exception as exc:  # whatever fails, only this action waits, never the others
            if not removal and _is_permanent(exc):
                observed, outcome = {"failed": _safe_reason(exc)}, Outcome.FAILED
            else:
                attempts = entry.attempts + 1
                policy = self.removal_retry if removal else self.retry
                if not policy.exhausted(attempts):
                    self._defer(entry, attempts, policy.defer(attempts), exc)
                    return False
                observed = {"failed": f"gave up after {attempts} attempts: {_safe_reason(exc)}"}
                outcome = Outcome.FAILED
        evidence = self._evidence(entry, outcome, observed)
        self.journal.mark_applied(item.request_id, item.action, outcome, evidence_hash(evidence), evidence)
        extra: dict[str, Any] = {
            "request_id": item.request_id,
            "action": item.action.name,
            "outcome": outcome.name,
            "attempts": entry.attempts + 1,
            "evidence_hash": "0x" + evidence_hash(evidence).hex(),
            "detail": observed.get("failed", "confirmed by read-back"),
        }
        if removal:
            extra["late_by"] = round(max(self.clock() - entry.due_since, 0.0), 3)  # seconds after it fell due
        log.info("action done", extra=extra)
        return True

    def _stand_down(self, entry: JournalEntry) -> bool:
        """True if another oracle of the domain already posted this action's receipt: nothing is done here.

        Removals never stand down (ensuring absence twice is harmless, and every site makes sure of it); an
        unlock, add or reset is done once, by whichever oracle's receipt came first.

        A first attempt that was not held asks nothing: the follower journalled the action from a final block
        and settled every receipt of the blocks up to it (``Journal.record``), so another oracle's receipt
        could only be in a block sealed since, milliseconds ago - the race two oracles acting at once run
        anyway, which the chain settles (the later receipt is refused). A retry, or an action a standby held
        back (``takeover_after``), has given others time: it asks the chain first.
        """
        if self.receipted is None or (entry.attempts == 0 and not entry.not_before):
            return False
        item = entry.action
        try:
            receipt = self.receipted(item.request_id, item.action)
        except (
            Exception
        ):  # the chain is unreachable: act (the oracle's duty), the receipt race is settled later
            return False
        if receipt is None:
            return False
        self.journal.mark_reported(item.request_id, item.action, None)
        log.info(
            "stood down: another oracle of the domain acted first",
            extra={
                "request_id": item.request_id,
                "action": item.action.name,
                "oracle": getattr(receipt, "oracle", None),
                "outcome": getattr(getattr(receipt, "outcome", None), "name", None),
            },
        )
        return True

    def _defer(self, entry: JournalEntry, attempts: int, delay: float, exc: BaseException) -> None:
        item = entry.action
        self.journal.defer(item.request_id, item.action, self.clock() + delay)
        log.warning(
            "action failed, deferred",
            extra={
                "request_id": item.request_id,
                "action": item.action.name,
                "attempt": attempts,
                "retry_in": round(delay, 3),
                "error": _safe_reason(exc),
            },
        )

    def _evidence(self, entry: JournalEntry, outcome: Outcome, observed: dict[str, Any]) -> str:
        """The record a receipt's detail hash commits to: which account, what AD showed afterwards, when."""
        item = entry.action
        record = {
            "v": 1,
            "request_id": item.request_id,
            "action": item.action.name,
            "outcome": outcome.name,
            "subject": "0x" + item.subject.hex(),
            "dc": "0x" + self.dc_id.hex(),
            "at": round(self.clock(), 3),
            "observed": observed,
        }
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    def _do(self, entry: JournalEntry) -> dict[str, Any]:
        item = entry.action
        if item.action is Action.REMOVE_MEMBER:
            return self._remove(entry)
        if self.principal_active is not None and not self.principal_active(item.subject):
            raise PermanentFailure("principal suspended before the action was applied")
        if item.action is Action.UNLOCK:
            return self._unlock(entry)
        if item.action is Action.ADD_MEMBER:
            return self._add(entry)
        if item.action is Action.RESET_PASSWORD:
            return self._reset_password(entry)
        raise PermanentFailure(f"unknown action {item.action}")

    def _unlock(self, entry: JournalEntry) -> dict[str, Any]:
        account = self._account(entry.action.subject)
        self.directory.unlock(account)
        after = self._read(account)
        if after.locked or after.lockout_time != 0:
            raise NotConfirmed("lockoutTime still set after the unlock")
        return {"object_guid": after.object_guid.hex(), "lockout_time": after.lockout_time, "locked": False}

    def _add(self, entry: JournalEntry) -> dict[str, Any]:
        item = entry.action
        # Never add what is already over: a late or retried add must not outlive its grant.
        if self.journal.get(item.request_id, Action.REMOVE_MEMBER) is not None:
            raise PermanentFailure("grant ended before it was applied")
        if self.clock() >= item.expiry:
            raise PermanentFailure("grant expired before it was applied")
        group, account = self._group(item.target), self._account(item.subject)
        self.directory.add_member(group, account)
        membership = self.directory.membership(group, account)
        if not membership.direct:
            raise NotConfirmed("member not in the group after the add")
        return {
            "object_guid": account.object_guid.hex() if account.object_guid else None,
            **membership.evidence(),
        }

    def _remove(self, entry: JournalEntry) -> dict[str, Any]:
        item = entry.action
        group = self._group(item.target)
        others = self.journal.other_live_grants(
            item.subject, item.target, self.clock(), besides=item.request_id
        )
        if others:
            # Another live grant still explains the membership: this grant ends, the member stays.
            return {"kept_for_grants": others, "membership": "kept"}
        try:
            account = self._account(item.subject, for_removal=True)
            self.directory.remove_member(group, account)
            membership = self.directory.membership(group, account)
        except AccountNotFound:
            return {"account": "gone"}  # a deleted account holds no privilege
        except GroupNotFound:
            return {"group": "gone"}
        if membership.effective:
            how = ", ".join(k for k, v in membership.evidence().items() if v)
            raise NotConfirmed(f"still an effective member after the removal ({how})")
        guid = account.object_guid.hex() if account.object_guid else None
        return {"object_guid": guid, **membership.evidence()}

    def _reset_password(self, entry: JournalEntry) -> dict[str, Any]:
        item = entry.action
        if self.payloads is None:
            raise PermanentFailure("this oracle has no payload store configured")
        account = self._account(item.subject)
        before = self._read(account)
        password = self.payloads.password(item.payload_hash, item.subject)
        self.password_policy.check(account, password)
        if self.history.used_recently(before.object_guid, password):
            raise PasswordRejected(
                account, [f"used recently: choose one that is not among the last {self.history.keep}"]
            )
        dc_policy = self.directory.reset_password(account, password)
        after = self._read(account)
        if after.password_last_set == before.password_last_set:
            raise NotConfirmed("pwdLastSet unchanged after the reset")
        self.history.remember(after.object_guid, password)
        return {
            "object_guid": after.object_guid.hex(),
            "pwd_last_set": after.password_last_set,
            "dc_applied_policy": bool(dc_policy),
        }

    # -- which account, which group ------------------------------------------------------------------------

    def _account(self, subject: bytes, *, for_removal: bool = False) -> AccountRef:
        """The account behind ``subject``, bound to the objectGUID it was first resolved to.

        A name can be reused after a deletion; the GUID cannot. An id whose account was replaced is refused;
        a removal goes to the pinned account, never to the newcomer.
        """
        pinned = self.journal.binding(subject)
        try:
            ref = self.resolver.account_for(subject, self.directory)
        except DirectoryIdNotFound as exc:
            if not for_removal:
                raise PermanentFailure("no directory account for this subject") from exc
            if pinned is None:
                raise AccountNotFound(AccountRef("unresolved")) from exc  # never added: nothing to remove
            return AccountRef("pinned", pinned)
        if ref.object_guid is None:
            ref = self.directory.account(ref).ref  # looked up by name once, then held by GUID
        assert ref.object_guid is not None
        bound = self.journal.bind(subject, ref.object_guid)
        if bound != ref.object_guid:
            if for_removal:
                return ref.pinned(bound)
            raise PermanentFailure(
                "the account behind this id changed since it was bound (deleted and reused?)"
            )
        return ref

    def _read(self, account: AccountRef) -> Any:
        try:
            return self.directory.account(account)
        except AccountNotFound as exc:
            raise PermanentFailure("the account no longer exists") from exc

    def _group(self, target: bytes) -> GroupRef:
        try:
            return self.groups.group_for(target)
        except LookupError as exc:
            raise PermanentFailure("target is not a group this oracle manages") from exc


def _is_permanent(exc: BaseException) -> bool:
    """Failures retrying cannot fix (for unlocks, additions, resets; a removal is retried whatever)."""
    if isinstance(exc, NotConfirmed | DirectoryUnavailable):
        return False
    return isinstance(exc, DirectoryError)  # anything else (a payload store gone, a bug) may pass: retried


def _safe_reason(exc: BaseException) -> str:
    """A failure description for logs and the evidence, with no secret and no account name in it."""
    if isinstance(exc, PasswordRejected):
        return "password rejected: " + "; ".join(exc.reasons)
    if isinstance(exc, PermanentFailure | NotConfirmed):
        return str(exc)
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__
