"""Posts the oracle's receipts on chain, exactly once per (request, action), and purges used payloads."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import Action
from pamchain.sdk.errors import ContractRevert, SdkError
from pamchain.sdk.oracle.journal import Journal

log = logging.getLogger("pamchain.oracle.reporter")
REFUSED_RETRY = 300.0  # seconds before a refused receipt is tried again


class Reporter:
    """Receipts for applied actions. The chain is the arbiter of "once": a receipt already there is not re-sent."""

    def __init__(
        self,
        client: PamClient,
        journal: Journal,
        dc_id: bytes,
        *,
        purge_payload: Callable[[bytes], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.client = client
        self.journal = journal
        self.dc_id = dc_id
        self.purge_payload = purge_payload

    def run_due(self, limit: int = 100) -> int:
        reported = 0
        for entry in self.journal.due("applied", self.clock(), limit):
            item = entry.action
            assert entry.outcome is not None and entry.detail_hash is not None
            tx_hash: str | None = None
            if self.client.receipt(item.request_id, item.action) is None:
                try:
                    tx_hash = self.client.post_receipt(
                        item.request_id, item.action, entry.outcome, entry.detail_hash, self.dc_id
                    ).tx_hash
                except ContractRevert as exc:
                    # Another instance of this oracle (or a crash just after sending) may have won the race.
                    if self.client.receipt(item.request_id, item.action) is None:
                        # Refused for good (e.g. the council moved the domain to another oracle): keep it,
                        # retry later, and let the receipts queued behind it go on.
                        self.journal.defer(item.request_id, item.action, self.clock() + REFUSED_RETRY)
                        log.error(
                            "receipt refused by the contract, retrying later",
                            extra={
                                "request_id": item.request_id,
                                "action": item.action.name,
                                "reason": exc.reason,
                            },
                        )
                        continue
            self.journal.mark_reported(item.request_id, item.action, tx_hash)
            log.info(
                "receipt on chain",
                extra={
                    "request_id": item.request_id,
                    "action": item.action.name,
                    "outcome": entry.outcome.name,
                    "tx": tx_hash,
                },
            )
            if item.action is Action.RESET_PASSWORD and self.purge_payload is not None:
                try:
                    self.purge_payload(item.payload_hash)
                except SdkError as exc:
                    log.warning(
                        "payload not purged", extra={"request_id": item.request_id, "error": str(exc)}
                    )
            reported += 1
        return reported
