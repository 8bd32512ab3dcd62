"""Sealing a request's justification to its eligible approvers, and reading it back: the client side, over the
chain (who the approvers are, which device each uses) and the payload store (their signed keys, the envelope)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.model import ZERO32, PrincipalStatus, Request
from pamchain.sdk.errors import SdkError
from pamchain.sdk.payloads.justification import (
    Justification,
    device_encryption_key,
    device_public_key,
    open_justification,
    seal_justification,
    verify_key,
)
from pamchain.sdk.payloads.sealed import PayloadError
from pamchain.sdk.payloads.store import PayloadClient


class NoApproverKey(SdkError, LookupError):
    """No approver of the policy has published an encryption key: nobody could read the justification."""


@dataclass(frozen=True, slots=True)
class Recipients:
    """Who a justification is sealed to: the public keys, and the approvers left out (no published key)."""

    keys: tuple[bytes, ...]
    missing: tuple[bytes, ...]


def recipients(client: PamClient, store: PayloadClient, target: bytes, subject: bytes) -> Recipients:
    """The requester's own key and the verified key of every active approver of ``target`` but the requester.

    A key counts only if the approver's current device (read from the chain) signed it for this chain."""
    assert client.account is not None
    chain_id = int(client.w3.eth.chain_id)
    keys = [device_public_key(client.account.key)]
    missing = []
    for approver in client.policy_approvers(target):
        if approver == subject:
            continue
        principal = client.principal(approver)
        if principal.status is not PrincipalStatus.ACTIVE:
            continue
        announcement = store.device_key(principal.device)
        try:
            if announcement is None:
                raise PayloadError("no key")
            keys.append(verify_key(announcement, chain_id, principal.device))
        except PayloadError:
            missing.append(approver)
    if len(keys) == 1:
        raise NoApproverKey(
            "no approver of this policy has published an encryption key, so none could read the "
            "justification: ask them to run `pamchain keys publish` (or open the phone app once)"
        )
    return Recipients(tuple(keys), tuple(missing))


def seal_for_request(
    client: PamClient, store: PayloadClient, target: bytes, text: str
) -> tuple[bytes, Recipients]:
    """Seal ``text`` to the approvers of ``target`` and store it; returns the salted hash to put in the
    request (``request_elevation(..., justification_hash=...)``) and who can read it."""
    assert client.account is not None
    subject = client.principal_of(client.account.address)
    if subject == ZERO32:
        raise SdkError(f"{client.account.address} is not enrolled: ask the council to enrol this device")
    who = recipients(client, store, target, subject)
    envelope, digest = seal_justification(who.keys, subject, target, text)
    store.put_justification(client.account, digest, envelope)
    return digest, who


def read_justification(account: LocalAccount, store: PayloadClient, request: Request) -> Justification:
    """Fetch and open a request's justification as ``account`` (its requester or one of its approvers)."""
    if request.justification_hash == ZERO32:
        raise SdkError(f"request {request.id} carries no justification")
    envelope = store.get_justification(account, request.justification_hash)
    return open_justification(
        device_encryption_key(account.key),
        envelope,
        request.justification_hash,
        request.subject,
        request.target,
    )
