"""The three stories on a live devnet — an unlock, an elevation that expires, a password reset — each waiting
for the oracle's receipt before going on, printing the chain's events as they happen."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount

from .world import DOMAIN, NEW_PASSWORD, PSEUDONYM_KEY, describe


class LiveStories:
    """Plays the stories through ``client`` against ``directory`` (in-memory or a Samba DC)."""

    def __init__(
        self,
        client: Any,
        accounts: dict[str, LocalAccount],
        directory: Any,
        users: dict[str, Any],
        ids: dict[str, bytes],
        group_dn: str,
        payload_url: str,
        grant_seconds: int,
        echo: Callable[[str], None],
    ) -> None:
        self.client = client
        self.accounts = accounts
        self.directory = directory
        self.users = users
        self.ids = ids
        self.group_dn = group_dn
        self.payload_url = payload_url
        self.grant_seconds = grant_seconds
        self.echo = echo
        self.seen = int(client.w3.eth.block_number)

    def as_(self, name: str) -> Any:
        return self.client.as_account(self.accounts[name])

    def show(self, title: str) -> None:
        self.echo(f"\n== {title}")
        head = int(self.client.w3.eth.block_number)
        for event in self.client.events(self.seen + 1, head):
            self.echo(describe(event))
        self.seen = head

    def play(self) -> None:
        self.unlock()
        self.elevation()
        self.password_reset()

    def unlock(self) -> None:
        from pamchain.sdk.chain.model import Action
        from pamchain.sdk.directory import AuthenticationFailed

        alice = self.users["alice"].ref
        self.echo("\n-- alice mistypes her password three times")
        for _ in range(3):
            with contextlib.suppress(AuthenticationFailed):
                self.directory.authenticate(alice, "hunter2-wrong")
        self.echo(f"   locked in AD: {self.directory.is_locked(alice)}")
        rid = self.as_("alice").request_unlock()
        self.client.wait_for_receipt(rid, Action.UNLOCK)
        self.show("unlock: self-service request; the oracle applies it and posts its receipt")
        self.echo(f"   locked in AD: {self.directory.is_locked(alice)}")

    def elevation(self) -> None:
        from pamchain.sdk.chain.model import Action, ticket_ref
        from pamchain.sdk.directory import GroupRef, group_target_id
        from pamchain.sdk.payloads.sealed_justifications import seal_for_request
        from pamchain.sdk.payloads.store import PayloadClient

        alice = self.users["alice"].ref
        group = GroupRef(self.group_dn)
        target = group_target_id(PSEUDONYM_KEY, self.group_dn)
        payloads = PayloadClient(self.payload_url)
        for approver in ("bob", "carol"):  # approvers publish their encryption keys once
            payloads.publish_key(self.accounts[approver])
        digest, _ = seal_for_request(self.as_("alice"), payloads, target, "patch the DCs")
        rid = self.as_("alice").request_elevation(
            target, self.grant_seconds, ticket=ticket_ref("CHG-1042"), justification_hash=digest
        )
        self.as_("bob").approve(rid)
        self.as_("carol").approve(rid)
        self.client.wait_for_receipt(rid, Action.ADD_MEMBER)
        self.show(f"elevation: {self.group_dn.split(',')[0][3:]} for {self.grant_seconds} s, approved 2-of-2")
        self.echo(f"   alice is a member: {self.directory.is_member(group, alice)}")
        self.client.wait_for_receipt(rid, Action.REMOVE_MEMBER, timeout=self.grant_seconds + 30)
        self.show(f"{self.grant_seconds} s later the grant expires; the oracle removes alice unasked")
        self.echo(f"   alice is a member: {self.directory.is_member(group, alice)}")

    def password_reset(self) -> None:
        from pamchain.sdk.chain.model import Action
        from pamchain.sdk.payloads.sealed import seal_password
        from pamchain.sdk.payloads.store import PayloadClient

        payloads = PayloadClient(self.payload_url)
        sealed = seal_password(self.client.oracle_key(DOMAIN), self.ids["alice"], NEW_PASSWORD)
        digest = payloads.put(self.accounts["alice"], sealed)
        rid = self.as_("alice").request_password_reset(digest)
        self.as_("bob").approve(rid)
        self.client.wait_for_receipt(rid, Action.RESET_PASSWORD)
        self.show("password reset: sealed to the oracle's key, only its hash on chain, approved by bob")
        self.directory.authenticate(self.users["alice"].ref, NEW_PASSWORD)
        self.echo("   alice binds with her new password: yes")
