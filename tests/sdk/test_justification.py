"""Justifications sealed to the approvers: the envelope, the salted hash, signed device keys, and the payload
store's rule that only the requester and the request's approvers may read one (over a real node)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from pamchain.sdk.chain.deployer import PolicySpec, PrincipalSpec, deploy_plan
from pamchain.sdk.chain.model import ZERO32, Status, ticket_ref
from pamchain.sdk.payloads.justification import (
    KeyAnnouncement,
    announce_key,
    device_encryption_key,
    device_public_key,
    justification_hash,
    open_justification,
    seal_justification,
    verify_key,
)
from pamchain.sdk.payloads.sealed import PayloadError
from pamchain.sdk.payloads.sealed_justifications import NoApproverKey, read_justification, seal_for_request
from pamchain.sdk.payloads.store import PayloadClient, PayloadStoreError

from support.chains import pamchain_node
from support.world import ADMINS, DOMAIN, directory_id, standard_plan

from .test_payload_store import World

SUBJECT, TARGET = directory_id("alice"), ADMINS
KEYS = {name: keccak(text=f"pamchain-test-key:{name}") for name in ("alice", "bob", "carol", "erin")}
ERIN = Account.from_key(KEYS["erin"])  # approver of another group only
OTHER_GROUP = keccak(text="test-group:backup-operators")
TEXT = "Patch KB5034441 on the DCs — fenêtre de maintenance"


# -- the envelope ---------------------------------------------------------------------------------------------


def _seal(names=("bob", "carol"), text=TEXT, **kw):
    return seal_justification([device_public_key(KEYS[n]) for n in names], SUBJECT, TARGET, text, **kw)


def test_seal__every_recipient_opens_the_same_text() -> None:
    envelope, digest = _seal(("alice", "bob", "carol"))
    for name in ("alice", "bob", "carol"):
        opened = open_justification(device_encryption_key(KEYS[name]), envelope, digest, SUBJECT, TARGET)
        assert opened.text == TEXT and opened.digest == digest


def test_seal__not_a_recipient__refused() -> None:
    envelope, digest = _seal(("bob",))
    with pytest.raises(PayloadError, match="not sealed to this device"):
        open_justification(device_encryption_key(KEYS["erin"]), envelope, digest, SUBJECT, TARGET)


def test_hash__salted_so_the_text_cannot_be_guessed() -> None:
    (_, first), (_, second) = _seal(), _seal()
    assert first != second and keccak(text=TEXT) not in (first, second)
    salt = bytes(range(32))
    assert _seal(salt=salt)[1] == justification_hash(salt, TEXT) == keccak(salt + TEXT.encode())


def test_open__hash_of_another_text__refused() -> None:
    envelope, _ = _seal()
    with pytest.raises(PayloadError, match="does not match the hash"):
        open_justification(device_encryption_key(KEYS["bob"]), envelope, keccak(text="x"), SUBJECT, TARGET)


def test_open__copied_into_another_request__refused() -> None:
    envelope, digest = _seal()
    key = device_encryption_key(KEYS["bob"])
    with pytest.raises(PayloadError, match="another request"):
        open_justification(key, envelope, digest, directory_id("bob"), TARGET)
    with pytest.raises(PayloadError, match="another request"):
        open_justification(key, envelope, digest, SUBJECT, OTHER_GROUP)


def test_open__tampered_body__refused() -> None:
    envelope, digest = _seal()
    tampered = envelope[:-1] + bytes([envelope[-1] ^ 1])
    with pytest.raises(PayloadError, match="cannot be opened"):
        open_justification(device_encryption_key(KEYS["bob"]), tampered, digest, SUBJECT, TARGET)


def test_seal__bounds() -> None:
    with pytest.raises(ValueError, match="longer than"):
        _seal(text="x" * 1025)
    with pytest.raises(ValueError, match="empty"):
        _seal(text="")
    with pytest.raises(ValueError, match="recipients"):
        seal_justification([], SUBJECT, TARGET, TEXT)
    many = [device_public_key(keccak(text=str(i))) for i in range(17)]
    assert len(seal_justification(many, SUBJECT, TARGET, "x" * 1024)[0]) <= 4096


def test_key_announcement__verifies_for_its_device_and_chain_only() -> None:
    bob = Account.from_key(KEYS["bob"])
    announcement = announce_key(bob, 1337)
    assert verify_key(announcement, 1337, bob.address) == device_public_key(bob.key)
    assert KeyAnnouncement.from_json(announcement.to_json()) == announcement
    with pytest.raises(PayloadError):
        verify_key(announcement, 1, bob.address)  # another chain
    with pytest.raises(PayloadError):
        verify_key(announcement, 1337, ERIN.address)  # offered as erin's
    forged = dataclasses.replace(announcement, public_key=device_public_key(KEYS["erin"]))
    with pytest.raises(PayloadError):
        verify_key(forged, 1337, bob.address)  # a store swapping in a key it knows


# -- the store: who may read -------------------------------------------------------------------------------


@contextlib.contextmanager
def _world(tmp: Path, *, end_bootstrap: bool = True, **node_options: Any) -> Iterator[World]:
    with pamchain_node(tmp, **node_options) as env:
        plan = standard_plan(env.accounts)
        plan = dataclasses.replace(
            plan,
            end_bootstrap=end_bootstrap,
            principals=[*plan.principals, PrincipalSpec(ERIN.address, directory_id("erin"), DOMAIN)],
            policies=[
                *plan.policies,
                PolicySpec(
                    OTHER_GROUP,
                    DOMAIN,
                    approvers=(directory_id("erin"),),
                    approvals_required=1,
                    max_duration=3600,
                    requesters=(directory_id("bob"),),
                ),
            ],
        )
        client, deployment = deploy_plan(env.w3, env.accounts["deployer"], plan)
        yield World(env.url, client, {**env.accounts, "erin": ERIN}, deployment.block)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with _world(tmp_path_factory.mktemp("justification-node")) as running:
        yield running


def _publish(store: PayloadClient, world: World, *names: str) -> None:
    for name in names:
        store.publish_key(world.accounts[name])


def test_sealed_request__requester_and_approvers_read__others_403(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, store):
        _publish(store, world, "bob", "carol", "erin")
        alice = world.as_("alice")
        digest, who = seal_for_request(alice, store, ADMINS, TEXT)
        assert who.missing == () and len(who.keys) == 3  # alice, bob, carol
        rid = alice.request_elevation(ADMINS, 600, ticket=ticket_ref("CHG-7"), justification_hash=digest)
        request = world.client.request(rid)
        assert request.justification_hash == digest != keccak(text=TEXT)
        for name in ("alice", "bob", "carol"):
            assert read_justification(world.accounts[name], store, request).text == TEXT
        for reader in (ERIN, world.accounts["oracle"], world.accounts["c1"], Account.create()):
            with pytest.raises(PayloadStoreError) as info:
                store.get_justification(reader, digest)
            assert info.value.status == 403


def test_request_older_than_the_nodes_state__readers_are_the_approvers_of_its_time(tmp_path: Path) -> None:
    """On a node that keeps the state of its last block only (pruned history), the store learns a request
    whose block's state is gone: the approvers who may read it are those of the policy when the request was
    made (from the policy's events), not those a later change named."""
    with _world(tmp_path / "chain", end_bootstrap=False, state_history=1) as world:
        with world.store(tmp_path / "p", purge_interval=None) as (_, store):  # learns nothing yet
            _publish(store, world, "alice", "bob", "carol", "erin")
            digest, _ = seal_for_request(world.as_("alice"), store, ADMINS, TEXT)
            rid = world.as_("alice").request_elevation(ADMINS, 600, justification_hash=digest)
            request = world.client.request(rid)
            request_block = world.client.block_number()
        # Later: erin replaces bob and carol; more blocks push the request's state out of the node.
        world.client.set_policy(
            ADMINS, DOMAIN, approvers=(directory_id("erin"),), approvals_required=1, max_duration=3600
        )
        for _ in range(3):
            world.client.set_policy(
                OTHER_GROUP, DOMAIN, approvers=(directory_id("erin"),), approvals_required=1, max_duration=60
            )
        assert world.client.block_number() > request_block + 2
        with world.store(tmp_path / "p", purge_interval=None) as (
            _,
            store,
        ):  # now learns from the deployment on
            for name in ("alice", "bob"):
                assert read_justification(world.accounts[name], store, request).text == TEXT
            with pytest.raises(PayloadStoreError) as info:
                store.get_justification(ERIN, digest)
            assert info.value.status == 403


def test_approver_without_key__left_out_and_reported(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, store):
        _publish(store, world, "bob")
        digest, who = seal_for_request(world.as_("alice"), store, ADMINS, "disk full on DC2")
        assert who.missing == (directory_id("carol"),)
        rid = world.as_("alice").request_elevation(ADMINS, 600, justification_hash=digest)
        request = world.client.request(rid)
        assert read_justification(world.accounts["bob"], store, request).text == "disk full on DC2"
        with pytest.raises(PayloadError, match="not sealed to this device"):
            read_justification(world.accounts["carol"], store, request)  # may fetch, cannot open


def test_no_approver_key__refused_before_anything_is_stored(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, store), pytest.raises(NoApproverKey, match="keys publish"):
        seal_for_request(world.as_("alice"), store, ADMINS, "nobody can read this")


def test_key__signed_by_another_device__refused_by_the_store(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, store):
        announcement = announce_key(world.accounts["alice"], 1337)
        import requests

        response = requests.put(
            f"{store.url}/v1/keys/{world.accounts['bob'].address}",
            json={**announcement.to_json(), "device": world.accounts["bob"].address},
            timeout=10,
        )
        assert response.status_code == 400
        assert store.device_key(world.accounts["bob"].address) is None
        stranger = Account.create()
        response = requests.put(
            f"{store.url}/v1/keys/{stranger.address}", json=announce_key(stranger, 1337).to_json(), timeout=10
        )
        assert response.status_code == 403


def test_put__hash_taken_by_another_writer__409(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, store):
        envelope, digest = _seal()
        store.put_justification(world.accounts["alice"], digest, envelope)
        store.put_justification(world.accounts["alice"], digest, envelope)  # idempotent
        with pytest.raises(PayloadStoreError) as info:
            store.put_justification(world.accounts["bob"], digest, envelope)
        assert info.value.status == 409


def test_purge__kept_while_pending__gone_once_denied(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", orphan_ttl=0) as (served, store):
        _publish(store, world, "bob", "carol")
        digest, _ = seal_for_request(world.as_("alice"), store, ADMINS, "denied later")
        rid = world.as_("alice").request_elevation(ADMINS, 600, justification_hash=digest)
        assert served.purge_once().purged == 0
        world.as_("bob").deny(rid, "not now")
        assert world.client.status(rid) is Status.DENIED
        assert served.purge_once().purged == 1
        assert not (tmp_path / "p" / "justifications" / digest.hex()).exists()


def test_purge__older_than_max_age__gone_even_while_pending(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (served, store):
        _publish(store, world, "bob")
        digest, _ = seal_for_request(world.as_("alice"), store, ADMINS, "waits too long")
        world.as_("alice").request_elevation(ADMINS, 600, justification_hash=digest)
        assert served.purge_once().purged == 0
        served.max_age = 0.001
        assert served.purge_once().purged == 1


def test_deny_reason__hash_is_not_keccak_of_the_text(world: World) -> None:
    rid = world.as_("alice").request_elevation(ADMINS, 600)
    denied = world.as_("bob").deny(rid, "not now")
    from pamchain.sdk.chain.events import GenericEvent

    event = next(e for e in denied.events if isinstance(e, GenericEvent) and e.event == "RequestDenied")
    assert bytes(event.args["reason_hash"]) not in (keccak(text="not now"), ZERO32)
