"""The payload store over a real node: who may read what, purging of unusable payloads, per-principal quotas."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.sdk.client import PamClient
from pamchain.sdk.deployer import OracleSpec, PrincipalSpec, deploy_plan
from pamchain.sdk.model import PASSWORD_RESET_TARGET, Status
from pamchain.sdk.payload_store import (
    ChainAuthorizer,
    PayloadClient,
    PayloadStore,
    PayloadStoreError,
    Quota,
    ServedStore,
)
from pamchain.sdk.sealed import public_key
from pamchain.sdk.transactions import wait_until

from ..integration.chains import pamchain_node
from .world import directory_id, standard_plan

DOMAIN_B = b"lab.example".ljust(32, b"\x00")
ORACLE_B = Account.from_key(keccak(text="pamchain-test-key:oracle-b"))
DAVE = Account.from_key(keccak(text="pamchain-test-key:dave"))  # a principal of domain B


@dataclass
class World:
    """A real node with the suite deployed for two domains: A (alice, bob, carol, oracle) and B (dave, oracle B)."""

    url: str
    client: PamClient
    accounts: dict[str, LocalAccount]
    deployment_block: int

    def as_(self, name: str) -> PamClient:
        return self.client.as_account(self.accounts[name])

    @contextlib.contextmanager
    def store(self, folder: Path, **options: Any) -> Iterator[tuple[PayloadStore, PayloadClient]]:
        store = PayloadStore(
            folder, ChainAuthorizer(self.client, start_block=self.deployment_block), **options
        )
        with ServedStore(store) as served:
            yield store, PayloadClient(served.url)


@contextlib.contextmanager
def running_world(tmp: Path, *, reset_max_pending: int = 3600) -> Iterator[World]:
    with pamchain_node(tmp) as env:
        accounts = {**env.accounts, "oracle-b": ORACLE_B, "dave": DAVE}
        plan = standard_plan(env.accounts)
        policies = [
            dataclasses.replace(p, max_pending=reset_max_pending) if p.target == PASSWORD_RESET_TARGET else p
            for p in plan.policies
        ]
        plan = dataclasses.replace(
            plan,
            oracles=[*plan.oracles, OracleSpec(DOMAIN_B, ORACLE_B.address, public_key(ORACLE_B.key))],
            principals=[*plan.principals, PrincipalSpec(DAVE.address, directory_id("dave"), DOMAIN_B)],
            policies=policies,
        )
        client, deployment = deploy_plan(env.w3, accounts["deployer"], plan)
        yield World(env.url, client, accounts, deployment.block)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("payload-node")) as running:
        yield running


def sealed(label: str, size: int = 200) -> bytes:
    """Stand-in ciphertext: the store treats payloads as opaque bytes."""
    return (keccak(text=label) * (size // 32 + 1))[:size]


def held(folder: Path, digest: bytes) -> bool:
    return (folder / digest.hex()).exists()


# -- reads and deletes: only the oracle of the payload's domain -----------------------------------------------


def test_get__oracle_of_another_domain__403_and_payload_kept(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(world.accounts["alice"], sealed("alice-get"))
        with pytest.raises(PayloadStoreError) as info:
            client.get(ORACLE_B, digest)
        assert info.value.status == 403
        assert "not the oracle of this payload's domain" in str(info.value)
        assert client.get(world.accounts["oracle"], digest) == sealed("alice-get")


def test_delete__oracle_of_another_domain__403_and_payload_kept(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(world.accounts["alice"], sealed("alice-delete"))
        with pytest.raises(PayloadStoreError) as info:
            client.delete(ORACLE_B, digest)
        assert info.value.status == 403
        assert held(tmp_path / "p", digest)
        assert client.get(world.accounts["oracle"], digest) == sealed("alice-delete")


def test_get_delete__own_domain_oracle__allowed_and_other_oracle_refused(
    world: World, tmp_path: Path
) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(DAVE, sealed("dave"))
        with pytest.raises(PayloadStoreError) as info:
            client.get(world.accounts["oracle"], digest)
        assert info.value.status == 403
        assert client.get(ORACLE_B, digest) == sealed("dave")
        client.delete(ORACLE_B, digest)
        assert not held(tmp_path / "p", digest)


def test_get__principal_or_stranger__403(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(world.accounts["alice"], sealed("alice-stranger"))
        for reader in (world.accounts["alice"], Account.create()):
            with pytest.raises(PayloadStoreError) as info:
                client.get(reader, digest)
            assert info.value.status == 403
            with pytest.raises(PayloadStoreError) as info:
                client.delete(reader, digest)
            assert info.value.status == 403
        assert held(tmp_path / "p", digest)


def test_get__unknown_payload__404_for_an_oracle(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        with pytest.raises(PayloadStoreError) as info:
            client.get(ORACLE_B, keccak(b"nothing here"))
        assert info.value.status == 404


# -- purge: payloads that can no longer be used -------------------------------------------------------------


def test_purge__denied_request__payload_removed(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (store, client):
        digest = client.put(world.accounts["alice"], sealed("denied"))
        rid = world.as_("alice").request_password_reset(digest)
        assert store.purge_once().purged == 0  # pending: kept
        assert held(tmp_path / "p", digest)
        world.as_("bob").deny(rid, "no")
        assert store.purge_once().purged == 1
        assert not held(tmp_path / "p", digest)


def test_purge__cancelled_request__payload_removed(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (store, client):
        digest = client.put(world.accounts["alice"], sealed("cancelled"))
        rid = world.as_("alice").request_password_reset(digest)
        world.as_("alice").cancel(rid)
        assert store.purge_once().purged == 1
        assert not held(tmp_path / "p", digest)


def test_purge__approved_request__payload_kept_for_the_oracle(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", orphan_ttl=0) as (store, client):
        digest = client.put(world.accounts["alice"], sealed("approved"))
        rid = world.as_("alice").request_password_reset(digest)
        world.as_("bob").approve(rid)
        assert world.client.status(rid) is Status.APPROVED
        assert store.purge_once().purged == 0
        assert client.get(world.accounts["oracle"], digest) == sealed("approved")


def test_purge__expired_request__payload_removed(tmp_path: Path) -> None:
    with (
        running_world(tmp_path / "chain", reset_max_pending=2) as short,
        short.store(tmp_path / "p") as (store, client),
    ):
        digest = client.put(short.accounts["alice"], sealed("expired"))
        rid = short.as_("alice").request_password_reset(digest)
        deadline = short.client.request(rid).deadline
        assert store.purge_once().purged == 0
        wait_until(lambda: time.time() > deadline + 1, timeout=30)
        short.as_("alice").request_unlock()  # any transaction: a block whose time is past the deadline
        short.client.wait_for_status(rid, [Status.EXPIRED], timeout=30)
        assert store.purge_once().purged == 1
        assert not held(tmp_path / "p", digest)


def test_purge__orphan__removed_after_its_ttl_only(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (store, client):  # default TTL (1 h): kept
        digest = client.put(world.accounts["alice"], sealed("orphan"))
        assert store.purge_once().purged == 0
        assert held(tmp_path / "p", digest)
    with world.store(tmp_path / "p", orphan_ttl=0) as (store, client):  # same data, TTL passed
        assert store.purge_once().purged == 1
        assert not held(tmp_path / "p", digest)


def test_purge__someone_elses_request__does_not_keep_a_payload_alive(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", orphan_ttl=0) as (store, client):
        digest = client.put(world.accounts["alice"], sealed("borrowed"))
        world.as_("bob").request_password_reset(digest)  # bob names alice's payload in his own request
        assert store.purge_once().purged == 1
        assert not held(tmp_path / "p", digest)


def test_purge__runs_periodically_inside_the_store(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", orphan_ttl=0, purge_interval=0.2) as (_, client):
        digest = client.put(world.accounts["alice"], sealed("periodic"))
        wait_until(lambda: not held(tmp_path / "p", digest), timeout=30)


# -- quotas ------------------------------------------------------------------------------------------------------


def test_put__count_quota__429_with_how_to_free_it_and_nothing_stored(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", quota=Quota(max_payloads=2, max_bytes=10_000)) as (_, client):
        client.put(world.accounts["alice"], sealed("q1"))
        client.put(world.accounts["alice"], sealed("q2"))
        with pytest.raises(PayloadStoreError) as info:
            client.put(world.accounts["alice"], sealed("q3"))
        assert info.value.status == 429
        message = str(info.value)
        assert "2 payloads" in message and "cancel" in message
        assert not held(tmp_path / "p", keccak(sealed("q3")))
        client.put(world.accounts["bob"], sealed("q-bob"))  # per principal: bob is not affected
        client.put(world.accounts["alice"], sealed("q1"))  # the same payload again is no new use


def test_put__bytes_quota__429_and_nothing_stored(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", quota=Quota(max_payloads=10, max_bytes=500)) as (_, client):
        client.put(world.accounts["alice"], sealed("b1", 300))
        with pytest.raises(PayloadStoreError) as info:
            client.put(world.accounts["alice"], sealed("b2", 300))
        assert info.value.status == 429
        assert "500 bytes" in str(info.value)
        assert not held(tmp_path / "p", keccak(sealed("b2", 300)))


def test_put__quota_freed_once_the_request_is_cancelled(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", quota=Quota(max_payloads=1, max_bytes=10_000)) as (store, client):
        first = client.put(world.accounts["alice"], sealed("free-1"))
        with pytest.raises(PayloadStoreError):
            client.put(world.accounts["alice"], sealed("free-2"))
        rid = world.as_("alice").request_password_reset(first)
        world.as_("alice").cancel(rid)
        store.purge_once()
        client.put(world.accounts["alice"], sealed("free-2"))


def test_quota__bad_values__refused() -> None:
    with pytest.raises(ValueError):
        Quota(max_payloads=0, max_bytes=100)
    with pytest.raises(ValueError):
        Quota(max_payloads=1, max_bytes=0)
