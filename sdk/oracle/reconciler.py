"""Drift detection: privileged-group members that no active grant explains are reported on chain (and removed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.directory import (
    AccountRef,
    Directory,
    DirectoryError,
    GroupRef,
    IdResolver,
    Member,
    StaticIdMap,
    pseudonymous_id,
)
from pamchain.sdk.oracle.journal import Journal

log = logging.getLogger("pamchain.oracle.reconciler")


class Reconciler:
    """Compares each managed group's members (every object class, primary-group members included) with the
    grants the journal holds as live; one odd member never stops the pass."""

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

    def _explained(self) -> dict[bytes, set[bytes]]:
        """Per target, the objectGUIDs a live grant (or a removal under way) explains."""
        by_target: dict[bytes, set[bytes]] = {t: set() for t in self.groups.groups}
        subjects = [(g.subject, g.target) for g in self.journal.live_grants(self.clock())]
        subjects += self.journal.pending_removals()
        for subject, target in subjects:
            guid = self.journal.binding(subject)
            if guid is None:
                try:
                    ref = self.resolver.account_for(subject, self.directory)
                    guid = ref.object_guid or self.directory.account(ref).object_guid
                except DirectoryError:
                    continue  # not resolvable: its member, if any, is reported as drift
            by_target.setdefault(target, set()).add(guid)
        return by_target

    def _baseline(self, target: bytes, member: Member) -> bool:
        names = {a.key for a in self.baseline.get(target, ())}
        return member.sam_account_name is not None and member.sam_account_name.casefold() in names

    def member_hash(self, member: Member) -> bytes:
        """The member's pseudonymous id: the same keyed hash of objectGUID that principals are enrolled under."""
        return pseudonymous_id(self.pseudonym_key, member.object_guid)

    def run(self, client: PamClient | None) -> list[tuple[bytes, Member]]:
        """One pass over every managed group; returns the unexplained (target, member) pairs it found.

        Reports go on chain once per (group, member) while the member stays; with ``client`` None (chain
        unreachable) drift is still found and, if configured, removed, and reported on a later pass. A group
        that cannot be read, or a member that cannot be handled, is logged and the pass goes on.
        """
        explained = self._explained()
        found: list[tuple[bytes, Member]] = []
        for target, group in self.groups.groups.items():
            try:
                members = self.directory.members(group)
            except DirectoryError as exc:
                log.error(
                    "managed group unreadable", extra={"target": "0x" + target.hex(), "error": str(exc)}
                )
                continue
            known = explained.get(target, set())
            unexplained = sorted(
                (m for m in members if m.object_guid not in known and not self._baseline(target, m)),
                key=lambda m: m.object_guid,
            )
            hashes = []
            for member in unexplained:
                found.append((target, member))
                member_hash = self.member_hash(member)
                hashes.append(member_hash)
                try:
                    self._handle(client, target, group, member, member_hash)
                except DirectoryError as exc:
                    log.error(
                        "drift not handled",
                        extra={
                            "target": "0x" + target.hex(),
                            "member": "0x" + member_hash.hex(),
                            "error": str(exc),
                        },
                    )
            self.journal.clear_drift(target, hashes)
        return found

    def _handle(
        self,
        client: PamClient | None,
        target: bytes,
        group: GroupRef,
        member: Member,
        member_hash: bytes,
    ) -> None:
        if self.remove:
            self.directory.remove_object(group, member)
        if client is None or self.journal.drift_reported(target, member_hash):
            return
        client.report_drift(self.domain, target, member_hash, self.dc_id, self.remove)
        self.journal.record_drift(target, member_hash)
        log.warning(
            "unexplained privileged member",
            extra={
                "target": "0x" + target.hex(),
                "member": "0x" + member_hash.hex(),
                "kind": member.kind,
                "primary": member.primary,
                "removed": self.remove,
            },
        )
