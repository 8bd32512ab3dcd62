"""Leavers: enrolled principals whose AD account was disabled, deleted or moved to the leavers OU are reported on
chain, once each; the domain's leaver rule on chain decides whether that suspends them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import LeaverReason, PrincipalStatus
from pamchain.sdk.directory import (
    AccountNotFound,
    AccountRef,
    Directory,
    DirectoryError,
    DirectoryIdNotFound,
    IdResolver,
    normalize_dn,
)
from pamchain.sdk.errors import ContractRevert
from pamchain.sdk.oracle.journal import Journal

log = logging.getLogger("pamchain.oracle.leavers")


@dataclass(frozen=True, slots=True)
class Leaver:
    """An enrolled principal whose AD account has left, and why."""

    subject: bytes
    reason: LeaverReason


def under(dn: str, ou: str) -> bool:
    """Whether ``dn`` lies inside the subtree of ``ou`` (compared as AD compares DNs)."""
    child, parent = normalize_dn(dn), normalize_dn(ou)
    if not child.endswith("," + parent):
        return False
    head = child[: len(child) - len(parent) - 1]
    return (len(head) - len(head.rstrip("\\"))) % 2 == 0  # an escaped comma does not end an RDN


class LeaverWatch:
    """Checks the AD account of every principal the oracle knows of in its domain: enrolled on chain (the
    follower journals the enrolments), named in the static ``[accounts]`` table, or seen in an action.

    An account counts as gone when its objectGUID is no longer found (deleted; only for an account the oracle
    has bound before, so a misspelt name is never taken for a leaver), when ACCOUNTDISABLE is set, or when its
    DN is under ``leavers_ou``. Each departure is reported once (the journal remembers it); an account that
    comes back (re-enabled, moved out) is forgotten, so a later departure is reported again.
    """

    def __init__(
        self,
        directory: Directory,
        journal: Journal,
        resolver: IdResolver,
        domain: bytes,
        dc_id: bytes,
        *,
        known: Iterable[bytes] = (),
        leavers_ou: str | None = None,
    ) -> None:
        self.directory = directory
        self.journal = journal
        self.resolver = resolver
        self.domain = domain
        self.dc_id = dc_id
        self.known = frozenset(bytes(k) for k in known)
        self.leavers_ou = leavers_ou
        self._unresolved: set[bytes] = set()  # ids already logged as not found, so the log says it once

    def subjects(self) -> list[bytes]:
        return sorted(self.known | self.journal.watched_principals())

    def check(self, subject: bytes) -> LeaverReason | None:
        """Why ``subject``'s account counts as gone, or None (present, or unknown to this directory).

        Raises ``DirectoryError`` when the directory cannot say (unreachable): nothing is concluded then.
        """
        pinned = self.journal.binding(subject)
        try:
            ref = self.resolver.account_for(subject, self.directory)
        except DirectoryIdNotFound:
            if pinned is None:
                self._say_unresolved(subject)
                return None  # never seen in this directory: not ours to judge
            ref = AccountRef("pinned", pinned)
        self._unresolved.discard(subject)
        if pinned is None:
            if ref.object_guid is None:
                try:
                    ref = self.directory.account(ref).ref  # by name once, then held by objectGUID
                except AccountNotFound:
                    self._say_unresolved(subject)
                    return None
            assert ref.object_guid is not None
            pinned = self.journal.bind(subject, ref.object_guid)
        try:
            account = self.directory.account(AccountRef(ref.sam_account_name, pinned))
        except AccountNotFound:
            return LeaverReason.DELETED
        if not account.enabled:
            return LeaverReason.DISABLED
        if self.leavers_ou and under(account.dn, self.leavers_ou):
            return LeaverReason.LEAVERS_OU
        return None

    def run(self, client: PamClient | None) -> list[Leaver]:
        """One pass over the watched principals; returns the leavers found (reported now or before).

        With ``client`` None (chain unreachable) leavers are found and reported on a later pass. A principal
        whose account cannot be read is logged and skipped; the pass goes on.
        """
        found: list[Leaver] = []
        for subject in self.subjects():
            try:
                reason = self.check(subject)
            except DirectoryError as exc:
                log.error("leaver check failed", extra={"subject": "0x" + subject.hex(), "error": str(exc)})
                continue
            if reason is None:
                self.journal.clear_leaver(subject)
                continue
            found.append(Leaver(subject, reason))
            if client is not None and not self.journal.leaver_reported(subject):
                self._report(client, subject, reason)
        return found

    def _report(self, client: PamClient, subject: bytes, reason: LeaverReason) -> None:
        fields = {"subject": "0x" + subject.hex(), "reason": reason.name}
        principal = client.principal(subject)
        if principal.status is PrincipalStatus.NONE or principal.domain != self.domain:
            log.debug("leaver not enrolled in this domain: not reported", extra=fields)
            return  # reported if it is enrolled here later
        if principal.status is PrincipalStatus.SUSPENDED:
            self.journal.record_leaver(subject, reason, None)  # another oracle or the council was first
            log.info("leaver already suspended: nothing to report", extra=fields)
            return
        try:
            result = client.report_leaver(subject, reason, self.dc_id)
        except ContractRevert as exc:
            # Say no longer an oracle of the domain: tried again next pass, the rest goes on.
            log.error("leaver report refused", extra={**fields, "revert": exc.reason})
            return
        self.journal.record_leaver(subject, reason, result.tx_hash)
        log.warning("leaver reported", extra={**fields, "tx": result.tx_hash})

    def _say_unresolved(self, subject: bytes) -> None:
        if subject not in self._unresolved:
            self._unresolved.add(subject)
            log.info("no directory account for a watched principal", extra={"subject": "0x" + subject.hex()})
