"""Applies journalled actions to the directory: retries transient failures with backoff, never repeats a done one."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_utils import keccak
from requests import RequestException

from ..directory import (
    AccountRef,
    Directory,
    DirectoryError,
    DirectoryIdNotFound,
    DirectoryUnavailable,
    GroupRef,
    IdResolver,
    PasswordRejected,
    StaticIdMap,
)
from ..errors import NodeUnavailable
from ..model import Action, Outcome
from ..password_policy import PasswordPolicy
from ..sealed import PayloadError, open_password
from .errors import PermanentFailure
from .journal import Journal, JournalEntry

log = logging.getLogger("pamchain.oracle.executor")


@dataclass(frozen=True, slots=True)
class Retry:
    """Backoff for transient directory failures: ``base * 2**attempt`` capped, with jitter, ``max_attempts`` in all."""

    max_attempts: int = 5
    base: float = 0.5
    cap: float = 60.0

    def defer(self, attempt: int) -> float:
        delay = min(self.cap, self.base * (2 ** max(attempt - 1, 0)))
        return delay * (0.5 + random.random() / 2)


def detail_hash(detail: str) -> bytes:
    """What goes on chain about an outcome: the hash of its (non-secret) description, kept in the oracle's log."""
    return keccak(text=detail)


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
    """Turns a pending journal entry into an AD change and an outcome in the journal."""

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
        clock: Callable[[], float] = time.time,
        principal_active: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.directory = directory
        # Suspension does not withdraw an approved unlock or reset on chain: the oracle checks before acting.
        self.principal_active = principal_active
        self.journal = journal
        self.resolver = resolver
        self.groups = groups
        self.payloads = payloads
        self.password_policy = password_policy or PasswordPolicy()
        self.retry = retry
        self.clock = clock

    def run_due(self, limit: int = 100) -> int:
        """Apply every pending action whose time has come; returns how many reached an outcome."""
        done = 0
        for entry in self.journal.due("pending", self.clock(), limit):
            if self.apply(entry):
                done += 1
        return done

    def apply(self, entry: JournalEntry) -> bool:
        """One attempt; True when the action reached its outcome (applied or failed for good)."""
        item = entry.action
        try:
            detail = self._do(entry)
            outcome = Outcome.APPLIED
        except (
            DirectoryUnavailable,
            ConnectionError,
            TimeoutError,
            RequestException,
            NodeUnavailable,
        ) as exc:
            attempts = entry.attempts + 1
            if attempts < self.retry.max_attempts:
                delay = self.retry.defer(attempts)
                self.journal.defer(item.request_id, item.action, self.clock() + delay)
                log.warning(
                    "transient failure, retrying",
                    extra={
                        "request_id": item.request_id,
                        "action": item.action.name,
                        "attempt": attempts,
                        "retry_in": round(delay, 2),
                        "error": type(exc).__name__,
                    },
                )
                return False
            detail, outcome = f"directory unavailable after {attempts} attempts", Outcome.FAILED
        except (PermanentFailure, DirectoryError, LookupError) as exc:
            detail, outcome = _safe_reason(exc), Outcome.FAILED
        self.journal.mark_applied(item.request_id, item.action, outcome, detail_hash(detail))
        log.info(
            "action done",
            extra={
                "request_id": item.request_id,
                "action": item.action.name,
                "outcome": outcome.name,
                "detail": detail,
            },
        )
        return True

    def _account(self, subject: bytes) -> AccountRef:
        try:
            return self.resolver.account_for(subject, self.directory)
        except DirectoryIdNotFound as exc:
            raise PermanentFailure("no directory account for this subject") from exc

    def _do(self, entry: JournalEntry) -> str:
        item = entry.action
        needs_active = (
            item.action in (Action.UNLOCK, Action.RESET_PASSWORD) and self.principal_active is not None
        )
        if needs_active and not self.principal_active(item.subject):  # type: ignore[misc]
            raise PermanentFailure("principal suspended before the action was applied")
        if item.action is Action.UNLOCK:
            self.directory.unlock(self._account(item.subject))
            return "unlocked"
        if item.action is Action.ADD_MEMBER:
            # Never add what is already over: a late or retried add must not outlive its grant.
            if self.journal.get(item.request_id, Action.REMOVE_MEMBER) is not None:
                raise PermanentFailure("grant ended before it was applied")
            if self.clock() >= item.expiry:
                raise PermanentFailure("grant expired before it was applied")
            self.directory.add_member(self._group(item.target), self._account(item.subject))
            return "member added"
        if item.action is Action.REMOVE_MEMBER:
            self.directory.remove_member(self._group(item.target), self._account(item.subject))
            return "member removed"
        if item.action is Action.RESET_PASSWORD:
            return self._reset_password(entry)
        raise PermanentFailure(f"unknown action {item.action}")

    def _group(self, target: bytes) -> GroupRef:
        try:
            return self.groups.group_for(target)
        except LookupError as exc:
            raise PermanentFailure("target is not a group this oracle manages") from exc

    def _reset_password(self, entry: JournalEntry) -> str:
        item = entry.action
        if self.payloads is None:
            raise PermanentFailure("this oracle has no payload store configured")
        account = self._account(item.subject)
        password = self.payloads.password(item.payload_hash, item.subject)
        self.password_policy.check(account, password)
        self.directory.reset_password(account, password)
        return "password set"


def _safe_reason(exc: BaseException) -> str:
    """A failure description for logs and the detail hash, with no secret and no account name in it."""
    if isinstance(exc, PasswordRejected):
        return "password rejected: " + "; ".join(exc.reasons)
    if isinstance(exc, PermanentFailure):
        return str(exc)
    return type(exc).__name__
