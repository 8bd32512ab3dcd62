"""Drift detection: privileged-group members that no active grant explains are reported on chain (and removed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from ..client import PamClient
from ..directory import (
    AccountRef,
    Directory,
    DirectoryIdNotFound,
    GroupRef,
    IdResolver,
    StaticIdMap,
    pseudonymous_id,
)
from .journal import Journal

log = logging.getLogger("pamchain.oracle.reconciler")


class Reconciler:
    """Compares each managed group with the grants the journal holds as live."""

    def __init__(
        self,
        directory: Directory,
        journal: Journal,
        resolver: IdResolver,
        groups: StaticIdMap,
        pseudonym_key: bytes,
        domain: bytes,
        dc_id: bytes,
        *,
        baseline: Mapping[bytes, frozenset[AccountRef]] | None = None,
        remove: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.journal = journal
        self.resolver = resolver
        self.groups = groups
        self.pseudonym_key = pseudonym_key
        self.domain = domain
        self.dc_id = dc_id
        self.baseline = dict(baseline or {})
        self.remove = remove
        self.clock = clock

    def _explained(self) -> dict[bytes, set[AccountRef]]:
        by_target: dict[bytes, set[AccountRef]] = {
            t: set(self.baseline.get(t, ())) for t in self.groups.groups
        }
        subjects = [(g.subject, g.target) for g in self.journal.live_grants(self.clock())]
        subjects += self.journal.pending_removals()
        for subject, target in subjects:
            try:
                by_target.setdefault(target, set()).add(self.resolver.account_for(subject, self.directory))
            except DirectoryIdNotFound:
                continue
        return by_target

    def member_hash(self, account: AccountRef) -> bytes:
        """The member's pseudonymous id: the same keyed hash of objectGUID that principals are enrolled under."""
        return pseudonymous_id(self.pseudonym_key, self.directory.account(account).object_guid)

    def run(self, client: PamClient | None) -> list[tuple[bytes, AccountRef]]:
        """One pass over every managed group; returns the unexplained (target, member) pairs it found.

        Reports go on chain once per (group, member) while the member stays; with ``client`` None (chain
        unreachable) drift is still found and, if configured, removed, and reported on a later pass.
        """
        explained = self._explained()
        found: list[tuple[bytes, AccountRef]] = []
        for target, group in self.groups.groups.items():
            members = self.directory.list_members(group)
            unexplained = sorted(members - explained.get(target, set()), key=lambda a: a.key)
            hashes = []
            for account in unexplained:
                found.append((target, account))
                member_hash = self.member_hash(account)
                hashes.append(member_hash)
                self._handle(client, target, group, account, member_hash)
            self.journal.clear_drift(target, hashes)
        return found

    def _handle(
        self,
        client: PamClient | None,
        target: bytes,
        group: GroupRef,
        account: AccountRef,
        member_hash: bytes,
    ) -> None:
        if self.remove:
            self.directory.remove_member(group, account)
        if client is None or self.journal.drift_reported(target, member_hash):
            return
        client.report_drift(self.domain, target, member_hash, self.dc_id, self.remove)
        self.journal.record_drift(target, member_hash)
        log.warning(
            "unexplained privileged member",
            extra={"target": "0x" + target.hex(), "member": "0x" + member_hash.hex(), "removed": self.remove},
        )
