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
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.deployer import OracleSpec, PrincipalSpec, deploy_plan
from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, Status
from pamchain.sdk.chain.transactions import wait_until
from pamchain.sdk.payloads.auth import RateLimiter
from pamchain.sdk.payloads.sealed import public_key
from pamchain.sdk.payloads.store import (
    ChainAuthorizer,
    PayloadClient,
    PayloadStore,
    PayloadStoreError,
    Quota,
    ServedStore,
)

from support.chains import pamchain_node
from support.world import directory_id, standard_plan

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
        assert "not an oracle of this payload's domain" in str(info.value)
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


# -- replay, binding to store and chain, unknown signers, rate limit (issue 13 item 9) -------------------------


class CountingAuthorizer:
    """The real chain authorizer, counting the lookups the store asks of it."""

    def __init__(self, inner: ChainAuthorizer) -> None:
        self.inner = inner
        self.start_block = inner.start_block
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        def counted(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return target(*args)

        return counted


def raw(url: str, method: str, digest: bytes, headers: dict[str, str], body: bytes | None = None) -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False
    return session.request(
        method, f"{url}/v1/payloads/0x{digest.hex()}", headers=headers, data=body, timeout=30
    )


def test_info__names_the_store_and_its_chain(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (store, client):
        info = client.info()
        assert info.chain_id == 1337 and info.store_id == store.store_id and len(info.store_id) >= 16
    with world.store(tmp_path / "p") as (again, _):
        assert again.store_id == store.store_id  # kept in the data folder across restarts
    with world.store(tmp_path / "other") as (other, _):
        assert other.store_id != store.store_id


def test_put__captured_and_replayed_to_another_store__refused(world: World, tmp_path: Path) -> None:
    body = sealed("replay-put")
    digest = keccak(body)
    with world.store(tmp_path / "one") as (_, one), world.store(tmp_path / "two") as (_, two):
        headers = one.signed_headers(world.accounts["alice"], "put", digest)
        assert raw(one.url, "PUT", digest, headers, body).status_code == 201
        replayed = raw(two.url, "PUT", digest, headers, body)
        assert replayed.status_code == 401
        assert "not signed for this store" in replayed.text
        assert not held(tmp_path / "two", digest)


def test_put__signed_for_another_chain__refused(world: World, tmp_path: Path) -> None:
    body = sealed("other-chain")
    digest = keccak(body)
    with world.store(tmp_path / "p") as (_, client):
        info = client.info()
        headers = client.signed_headers(
            world.accounts["alice"], "put", digest, info=dataclasses.replace(info, chain_id=info.chain_id + 1)
        )
        response = raw(client.url, "PUT", digest, headers, body)
        assert response.status_code == 401 and "not signed for this store" in response.text
        assert not held(tmp_path / "p", digest)


def test_get__captured_and_replayed_within_its_window__refused(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(world.accounts["alice"], sealed("replay-get"))
        headers = client.signed_headers(world.accounts["oracle"], "get", digest)
        assert raw(client.url, "GET", digest, headers).content == sealed("replay-get")
        again = raw(client.url, "GET", digest, headers)
        assert again.status_code == 401 and "replayed" in again.text
        delete = client.signed_headers(world.accounts["oracle"], "delete", digest)
        assert raw(client.url, "DELETE", digest, delete).status_code == 204
        assert raw(client.url, "DELETE", digest, delete).status_code == 401


def test_request__bad_nonce_or_missing_headers__401(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p") as (_, client):
        digest = client.put(world.accounts["alice"], sealed("nonce"))
        good = client.signed_headers(world.accounts["oracle"], "get", digest)
        for broken in (
            {**good, "X-Pamchain-Nonce": "short"},
            {k: v for k, v in good.items() if k != "X-Pamchain-Nonce"},
            {k: v for k, v in good.items() if k != "X-Pamchain-Signer"},
            {**good, "X-Pamchain-Signer": ORACLE_B.address},
        ):
            assert raw(client.url, "GET", digest, broken).status_code == 401
        assert raw(client.url, "GET", digest, good).status_code == 200  # the refusals burnt nothing


def test_unknown_signer__refused_before_any_chain_lookup(world: World, tmp_path: Path) -> None:
    counting = CountingAuthorizer(ChainAuthorizer(world.client, start_block=world.deployment_block))
    store = PayloadStore(tmp_path / "p", counting, purge_interval=None, signer_refresh=3600)
    with ServedStore(store) as served:
        client = PayloadClient(served.url)
        client.put(world.accounts["alice"], sealed("known"))
        before = dict(counting.calls)
        for _ in range(5):
            stranger = Account.create()
            with pytest.raises(PayloadStoreError) as info:
                client.put(stranger, sealed("stranger"))
            assert info.value.status == 403 and "unknown signer" in str(info.value)
            with pytest.raises(PayloadStoreError) as info:
                client.get(stranger, keccak(sealed("known")))
            assert info.value.status == 403
        assert counting.calls == before  # no writer/oracle lookup, no refresh before its time


def test_unknown_signer__newly_enrolled__accepted_once_the_signer_set_is_refreshed(
    world: World, tmp_path: Path
) -> None:
    newcomer = Account.create()
    with world.store(tmp_path / "p", signer_refresh=0) as (_, client):
        with pytest.raises(PayloadStoreError) as info:
            client.put(newcomer, sealed("newcomer"))
        assert info.value.status == 403
        world.as_("c1").enrol(newcomer.address, directory_id("newcomer"), b"lab.example".ljust(32, b"\x00"))
        world.as_("c2").approve_proposal(world.client.proposal_count())
        assert world.client.principal_of(newcomer.address) == directory_id("newcomer")
        client.put(newcomer, sealed("newcomer"))


def test_rate_limit__one_client_over_its_budget__429_and_nothing_stored(world: World, tmp_path: Path) -> None:
    with world.store(tmp_path / "p", rate=0.001, burst=3) as (_, client):
        for i in range(3):
            client.put(world.accounts["alice"], sealed(f"rate-{i}"))
        with pytest.raises(PayloadStoreError) as info:
            client.put(world.accounts["alice"], sealed("rate-3"))
        assert info.value.status == 429 and "rate limit" in str(info.value)
        assert not held(tmp_path / "p", keccak(sealed("rate-3")))


def test_rate_limiter__per_key_buckets_refill_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")  # another client has its own budget
    now[0] = 1.0
    assert limiter.allow("a") and not limiter.allow("a")


def test_rate_limiter__bad_values__refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0)


def test_node_unreachable__503_retry_later_and_nothing_stored(world: World, tmp_path: Path) -> None:
    from pamchain.sdk.chain.client import connect

    from support.rpc import free_port

    dead = f"http://127.0.0.1:{free_port()}"  # reserved: nobody listens there
    blind = ChainAuthorizer(PamClient(connect(dead, timeout=5), world.client.contract.address))
    with ServedStore(PayloadStore(tmp_path / "p", blind, purge_interval=None)) as served:
        client = PayloadClient(served.url)
        with pytest.raises(PayloadStoreError) as info:
            client.put(world.accounts["alice"], sealed("no-node"))
        assert info.value.status == 503 and "retry later" in str(info.value)
    assert not held(tmp_path / "p", keccak(sealed("no-node")))


def test_file_without_a_record__adopted__read_by_the_domain_of_the_request_naming_it(
    world: World, tmp_path: Path
) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    body = sealed("from an older store")
    digest = keccak(body)
    (folder / digest.hex()).write_bytes(body)  # as a store without an index left it
    with world.store(folder, orphan_ttl=3600) as (store, client):
        with pytest.raises(PayloadStoreError) as info:
            client.get(world.accounts["oracle"], digest)  # no writer known, no request yet: nobody reads
        assert info.value.status == 403
        world.as_("alice").request_password_reset(digest)
        store.purge_once()  # learns the request
        assert client.get(world.accounts["oracle"], digest) == body
        with pytest.raises(PayloadStoreError):
            client.get(ORACLE_B, digest)


def test_unknown_signer__enrolled_just_after_a_read__waits_for_the_next_read_instead_of_403(
    world: World, tmp_path: Path
) -> None:
    """The CI flake of the phone's first justification: a device enrolled a moment after the store last read the
    signer set was refused until the next read was allowed. Now its request waits for a read that starts after
    it (still at most one read per signer_refresh: random keys cost no more chain queries)."""
    newcomer = Account.create()
    counting = CountingAuthorizer(ChainAuthorizer(world.client, start_block=world.deployment_block))
    store = PayloadStore(tmp_path / "p", counting, purge_interval=None, signer_refresh=5.0)
    with ServedStore(store) as served:
        client = PayloadClient(served.url)
        with pytest.raises(PayloadStoreError) as info:
            client.put(newcomer, sealed("early"))  # a miss: the signer set is read now
        assert info.value.status == 403
        world.as_("c1").enrol(newcomer.address, directory_id("late"), b"lab.example".ljust(32, b"\x00"))
        world.as_("c2").approve_proposal(world.client.proposal_count())
        client.put(newcomer, sealed("late"))  # within 5 s of that read: waits for the next one, then accepted
        assert counting.calls.get("known_signers", 0) == 2
