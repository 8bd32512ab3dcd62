# Over 500 lines on purpose: the store's authorization, quota and purge rules are one security boundary.
"""A small hash-addressed store for sealed payloads, run beside the node (like Tessera for GoQuorum).

Password payloads: writes are signed by the requester's device key and accepted only from an active principal,
within a quota; reads and deletes are signed by the oracle of the writer's domain. Payloads are opaque sealed
boxes addressed by their keccak hash, so the store never sees a password and cannot substitute a payload for
another. The oracle deletes a payload once its receipt is on chain; the store purges those no request can use
any more, and any payload older than ``max_age``.

Justifications (``sdk/payloads/justification.py``): sealed to the approvers, addressed by the salted hash their
elevation request carries, read only by the requester and the approvers of the request's policy as it stood
when the request was made; purged once the request is decided and its grant is over.

Device encryption keys: each device publishes its X25519 key signed by its Ethereum key; anyone may read them
(senders check the signature against the chain, so the store cannot substitute one).

Signatures are bound to this store, its chain and a nonce (``payload_auth``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import secrets
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
from aiohttp import web
from aiohttp.typedefs import Handler
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.sdk.chain.client import PamClient
from pamchain.sdk.chain.events import GenericEvent, RequestCreated
from pamchain.sdk.chain.model import ZERO32, Kind, PrincipalStatus, Status
from pamchain.sdk.errors import SdkError
from pamchain.sdk.payloads.auth import (
    NonceMemory,
    RateLimiter,
    SignatureRefused,
    StoreInfo,
    signed_headers,
    verify,
)
from pamchain.sdk.payloads.index import (
    JustifiedRequest,
    PayloadIndex,
    ResetRequest,
    StoredJustification,
    StoredPayload,
)
from pamchain.sdk.payloads.justification import KeyAnnouncement, announce_key, verify_key
from pamchain.sdk.payloads.sealed import MAX_PAYLOAD_BYTES, PayloadError
from pamchain.sdk.served import ServedApp

log = logging.getLogger("pamchain.payload_store")
T = TypeVar("T")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_FILE = re.compile(r"^[0-9a-f]{64}$")
_STORE_ID = re.compile(r"^[0-9A-Za-z._-]{8,64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
MAX_AGE = 7 * 24 * 3600.0  # no payload of any kind outlives this, whatever its request says
MAX_SIGNER_WAIT = (
    10.0  # seconds a request from a signer not yet seen may wait for the next read of the signer set
)


class PayloadStoreError(SdkError):
    """The payload store refused a request or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Quota:
    """What one principal may hold in the store at once: a bound on disk use that a single device cannot
    exceed, however many requests it makes."""

    max_payloads: int = 4
    max_bytes: int = 4 * MAX_PAYLOAD_BYTES

    def __post_init__(self) -> None:
        if self.max_payloads < 1 or self.max_bytes < 1:
            raise ValueError("payload quota: max_payloads and max_bytes must be at least 1")


@dataclass(frozen=True, slots=True)
class Writer:
    """The principal behind a device key allowed to write: its directory id and its domain."""

    subject: bytes
    domain: bytes


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge pass did."""

    purged: int
    kept: int
    new_requests: int


class Authorizer(Protocol):
    """What the store asks the chain: who writes (active principals), who reads (each domain's oracle), and
    the password-reset requests that name payloads, with their status."""

    start_block: int

    def chain_id(self) -> int: ...

    def known_signers(self) -> frozenset[str]:
        """Every address that may sign anything here (enrolled devices and oracles, checksummed): the cheap
        first gate, before any lookup of what a signer may do."""
        ...

    def writer(self, address: str) -> Writer | None: ...

    def is_domain_oracle(self, domain: bytes, address: str) -> bool: ...

    def is_oracle(self, address: str) -> bool: ...

    def named_requests(self, from_block: int) -> tuple[list[ResetRequest], list[JustifiedRequest], int]:
        """Password-reset requests, and elevation requests carrying a justification hash (with the policy's
        approver set at their block), created from ``from_block`` on; and the next block to scan."""
        ...

    def status(self, request_id: int) -> Status: ...


_LIMITED = ("/v1/payloads/", "/v1/justifications/", "/v1/keys/")
_LIVE = frozenset({Status.PENDING, Status.APPROVED})  # a payload these requests name may still be used
# A justification is kept while its request waits for approvers and while its grant is live (an approver may
# revoke it); then it has served its purpose.
_JUSTIFICATION_LIVE = frozenset({Status.PENDING, Status.APPROVED, Status.ACTIVE})


@dataclass
class PayloadStore:
    """The server side: files named by hash under ``directory`` (mode 0700), written atomically, with an index
    beside them. A purge pass (every ``purge_interval`` seconds; None: only when :meth:`purge_once` is called)
    drops payloads no request can use any more: their writer's requests naming them are all final and not
    approved, or none names them ``orphan_ttl`` seconds after they were stored, or they are older than
    ``max_age`` seconds (justifications alike, kept while their request is pending or its grant is live).

    Each request is checked cheapest first: the client's rate (``rate`` per second, ``burst`` at once, per
    connecting address), the signature (bound to ``store_id``, the chain id and a nonce), the signer among the
    known signers (a set read from the chain at most once per ``signer_refresh`` seconds), the nonce's first
    use; only then what the signer may do, asked of the chain."""

    directory: Path
    authorizer: Authorizer
    clock: Callable[[], float] = time.time
    quota: Quota = field(default_factory=Quota)
    orphan_ttl: float = 3600.0
    purge_interval: float | None = 60.0
    max_age: float = MAX_AGE
    store_id: str | None = None
    signer_refresh: float = 2.0
    rate: float = 5.0
    burst: int = 20

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.max_age <= 0:
            raise ValueError("max_age must be more than 0 seconds")
        self.justification_dir = self.directory / "justifications"
        self.justification_dir.mkdir(exist_ok=True, mode=0o700)
        self.store_id = self._load_store_id(self.store_id)
        self.index = PayloadIndex(self.directory / "index.sqlite3")
        self._purge_lock = threading.Lock()
        self._nonces = NonceMemory()
        self._limiter = RateLimiter(self.rate, self.burst)
        self._signers: frozenset[str] = frozenset()
        self._signers_at = -math.inf
        self._refreshing: asyncio.Future[frozenset[str]] | None = None
        self._chain_id: int | None = None
        self._adopt_files()

    def _load_store_id(self, configured: str | None) -> str:
        """The configured id, else the one kept in the data folder (made at first start): signatures for
        another store, or for this one before its data was wiped, do not verify here."""
        if configured is not None:
            if not _STORE_ID.match(configured):
                raise ValueError("store_id: 8 to 64 letters, digits, '.', '_' or '-'")
            return configured
        path = self.directory / "store-id"
        if not path.exists():
            fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(16) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(path.with_suffix(".tmp"), path)
        return path.read_text(encoding="ascii").strip()

    def _adopt_files(self) -> None:
        """Make the index match the folder after a crash or an upgrade: a file without a record is kept as an
        orphan of unknown writer (its TTL runs from its mtime), a record without a file is dropped."""
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        on_disk = {bytes.fromhex(p.name): p for p in self.directory.iterdir() if _FILE.match(p.name)}
        known = {payload.digest for payload in self.index.payloads()}
        for digest in known - on_disk.keys():
            self.index.remove(digest)
        for digest in on_disk.keys() - known:
            stat = on_disk[digest].stat()
            self.index.add(StoredPayload(digest, None, None, stat.st_size, stat.st_mtime))
        # A justification without its record has no known writer, so nobody could be allowed to read it.
        recorded = {item.ref for item in self.index.justifications()}
        for path in self.justification_dir.iterdir():
            if not _FILE.match(path.name) or bytes.fromhex(path.name) not in recorded:
                path.unlink(missing_ok=True)
        for ref in recorded - {bytes.fromhex(p.name) for p in self.justification_dir.iterdir()}:
            self.index.remove_justification(ref)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES * 2 + 1024, middlewares=[self._rate_limit])
        app.router.add_get("/v1/info", self._info_route)
        app.router.add_put("/v1/payloads/{digest}", self._put)
        app.router.add_get("/v1/payloads/{digest}", self._get)
        app.router.add_delete("/v1/payloads/{digest}", self._delete)
        app.router.add_put("/v1/justifications/{ref}", self._put_justification)
        app.router.add_get("/v1/justifications/{ref}", self._get_justification)
        app.router.add_put("/v1/keys/{device}", self._put_key)
        app.router.add_get("/v1/keys/{device}", self._get_key)
        app.router.add_get("/healthz", self._health)
        if self.purge_interval is not None:
            app.cleanup_ctx.append(self._purging)
        return app

    async def _purging(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(self._purge_loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _purge_loop(self) -> None:
        assert self.purge_interval is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.purge_interval)
            try:
                report = await loop.run_in_executor(None, self.purge_once)
            except Exception as exc:  # the node may be away: try again next time, keep serving
                log.warning("payload purge failed", extra={"error": type(exc).__name__})
                continue
            if report.purged:
                log.info("payloads purged", extra={"purged": report.purged, "kept": report.kept})

    # -- purge ----------------------------------------------------------------------------------------------

    def learn(self) -> int:
        """Learn the requests that name payloads from the chain, up to its head; how many were new."""
        with self._purge_lock:
            return self._learn()

    def _learn(self) -> int:
        first = self.index.next_block(self.authorizer.start_block)
        resets, justified, next_block = self.authorizer.named_requests(first)
        self.index.add_justified(justified)  # before the scan moves on: a crash re-learns, never skips
        self.index.add_resets(resets, next_block)
        return len(resets) + len(justified)

    def purge_once(self) -> PurgeReport:
        """Learn the new requests from the chain, then drop every payload and justification none can use."""
        with self._purge_lock:
            learnt = self._learn()
            now = self.clock()
            purged = kept = 0
            for payload in self.index.payloads():
                if self._usable(payload, now):
                    kept += 1
                else:
                    self._remove(payload.digest)
                    purged += 1
            for item in self.index.justifications():
                if self._justification_usable(item, now):
                    kept += 1
                else:
                    self._remove_justification(item.ref)
                    purged += 1
            return PurgeReport(purged, kept, learnt)

    def _justification_usable(self, item: StoredJustification, now: float) -> bool:
        naming = self.index.justified_naming(item)
        return self._needed(item.stored_at, naming, self.index.set_justified_status, _JUSTIFICATION_LIVE, now)

    def _remove_justification(self, ref: bytes) -> None:
        (self.justification_dir / ref.hex()).unlink(missing_ok=True)
        self.index.remove_justification(ref)

    def _usable(self, payload: StoredPayload, now: float) -> bool:
        naming = self.index.resets_naming(payload)
        return self._needed(payload.stored_at, naming, self.index.set_status, _LIVE, now)

    def _needed(
        self,
        stored_at: float,
        naming: Sequence[Any],
        set_status: Callable[[int, Status], None],
        live: Collection[Status],
        now: float,
    ) -> bool:
        """Whether a stored item is still needed: younger than ``max_age`` and either named by a request in a
        ``live`` status (a status not final yet is asked of the chain and remembered) or, named by none,
        younger than ``orphan_ttl``."""
        if now - stored_at >= self.max_age:
            return False
        if not naming:
            return now - stored_at < self.orphan_ttl
        for found in naming:
            status = found.status
            if not status.is_final:  # final statuses never change: no need to ask again
                status = self.authorizer.status(found.request_id)
                if status is not found.status:
                    set_status(found.request_id, status)
            if status in live:
                return True
        return False

    def _remove(self, digest: bytes) -> None:
        (self.directory / digest.hex()).unlink(missing_ok=True)
        self.index.remove(digest)

    # -- requests -------------------------------------------------------------------------------------------

    def _path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise web.HTTPBadRequest(text="payload hash must be 0x + 64 lowercase hex digits")
        return self.directory / digest[2:]

    @web.middleware
    async def _rate_limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(_LIMITED) and not self._limiter.allow(request.remote or "?"):
            raise web.HTTPTooManyRequests(
                text=f"rate limit: at most {self.burst} requests at once, then {self.rate:g} per second; retry later"
            )
        return await handler(request)

    async def _info(self) -> StoreInfo:
        if self._chain_id is None:
            self._chain_id = await self._ask(self.authorizer.chain_id)
        assert self.store_id is not None
        return StoreInfo(self.store_id, self._chain_id)

    async def _info_route(self, request: web.Request) -> web.Response:
        info = await self._info()
        return web.json_response(
            {"store_id": info.store_id, "chain_id": info.chain_id, "signature_window": info.signature_window}
        )

    async def _known(self, signer: str) -> bool:
        """Whether ``signer`` is in the chain's signer set. The set is read from the chain at most every
        ``signer_refresh`` seconds, so random keys cannot make the store query the chain; a signer it lacks
        waits for a read that starts after its request (a device enrolled a moment ago is not refused because
        the last read was recent), unless that read is more than ``MAX_SIGNER_WAIT`` seconds away."""
        asked = time.monotonic()
        while signer not in self._signers:
            if self._refreshing is not None:
                started = self._signers_at
                await asyncio.shield(self._refreshing)
                if started >= asked:
                    return signer in self._signers
                continue
            if self._signers_at >= asked:  # a read that started after this request has not found it
                return False
            wait = self._signers_at + self.signer_refresh - time.monotonic()
            if wait > MAX_SIGNER_WAIT:
                return False
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._signers_at = time.monotonic()
            self._refreshing = asyncio.ensure_future(self._ask(self.authorizer.known_signers))
            try:
                self._signers = await self._refreshing
            finally:
                self._refreshing = None
            return signer in self._signers
        return True

    async def _signer(self, request: web.Request, verb: str, digest: str) -> str:
        try:
            signed = verify(request.headers, verb, digest, await self._info(), self.clock())
        except SignatureRefused as exc:
            raise web.HTTPUnauthorized(text=str(exc)) from exc
        if not await self._known(signed.signer):
            raise web.HTTPForbidden(
                text=f"unknown signer {signed.signer}: neither an enrolled device nor an oracle"
            )
        if not self._nonces.first_use(signed, self.clock()):
            raise web.HTTPUnauthorized(text="replayed request: this nonce was already used")
        return signed.signer

    async def _ask(self, fn: Callable[..., T], *args: Any) -> T:
        """A chain lookup off the event loop: the node's latency must not stall other requests. A node that
        cannot answer is the client's 503 (retry later), not a crash of the request."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except Exception as exc:  # web3 and requests raise many types for an absent or failing node
            log.warning("chain lookup failed", extra={"error": type(exc).__name__})
            raise web.HTTPServiceUnavailable(text="the chain cannot be read now: retry later") from exc

    async def _put(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        path = self._path(digest)
        body = await request.read()
        if not body or len(body) > MAX_PAYLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_PAYLOAD_BYTES, actual_size=len(body))
        if "0x" + keccak(body).hex() != digest:
            raise web.HTTPBadRequest(text="payload does not match its hash")
        signer = await self._signer(request, "put", digest)
        writer = await self._ask(self.authorizer.writer, signer)
        if writer is None:
            raise web.HTTPForbidden(text=f"{signer} is not the device of an active principal")
        raw = bytes.fromhex(digest[2:])
        if path.exists() and self.index.get(raw) is not None:
            return web.Response(status=200, text="already stored")
        self._enforce_quota(writer, len(body))
        tmp = _synced_temp(path, body)
        os.replace(tmp, path)
        self.index.add(StoredPayload(raw, writer.subject, writer.domain, len(body), self.clock()))
        return web.Response(status=201, text="stored")

    def _enforce_quota(self, writer: Writer, size: int) -> None:
        count, used = self.index.usage(writer.subject)
        if count + 1 <= self.quota.max_payloads and used + size <= self.quota.max_bytes:
            return
        raise web.HTTPTooManyRequests(
            text=(
                f"payload quota reached: this principal holds {count} payloads ({used} bytes); the limit is "
                f"{self.quota.max_payloads} payloads and {self.quota.max_bytes} bytes. A payload is freed "
                "once its request is fulfilled, denied, cancelled or expired: cancel a pending password "
                f"request you no longer need, or wait {int(self.orphan_ttl)} s for a payload no request "
                "names to be purged."
            )
        )

    async def _reader_may(self, signer: str, digest: str) -> StoredPayload | None:
        """The payload if ``signer`` is its domain's oracle; None if there is none and ``signer`` is an
        oracle (a 404 is no news to an oracle: payload hashes are on chain); 403 otherwise."""
        payload = self.index.get(bytes.fromhex(digest[2:]))
        if payload is None:
            if await self._ask(self.authorizer.is_oracle, signer):
                return None
            raise web.HTTPForbidden(text=f"{signer} may not read or delete payloads")
        domain = payload.domain
        if domain is None:  # adopted file: the domain of the requests that name it, if any
            naming = self.index.resets_naming(payload)
            domain = naming[0].domain if naming else None
        if domain is None or not await self._ask(self.authorizer.is_domain_oracle, domain, signer):
            raise web.HTTPForbidden(text=f"{signer} is not an oracle of this payload's domain")
        return payload

    async def _get(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        path = self._path(digest)
        payload = await self._reader_may(await self._signer(request, "get", digest), digest)
        try:
            if payload is None:
                raise FileNotFoundError(path)
            body = path.read_bytes()
        except FileNotFoundError as exc:  # also when a purge removed it a moment ago
            raise web.HTTPNotFound(text="no such payload") from exc
        return web.Response(body=body, content_type="application/octet-stream")

    async def _delete(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        self._path(digest)
        payload = await self._reader_may(await self._signer(request, "delete", digest), digest)
        if payload is not None:
            self._remove(payload.digest)
        return web.Response(status=204)

    # -- justifications -------------------------------------------------------------------------------------

    async def _put_justification(self, request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        path = self._justification_path(ref)
        body = await request.read()
        if not body or len(body) > MAX_PAYLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_PAYLOAD_BYTES, actual_size=len(body))
        signer = await self._signer(request, "put-justification", ref)
        writer = await self._ask(self.authorizer.writer, signer)
        if writer is None:
            raise web.HTTPForbidden(text=f"{signer} is not the device of an active principal")
        raw = bytes.fromhex(ref[2:])
        known = self.index.justification(raw)
        if known is not None:
            if known.subject == writer.subject and path.exists() and path.read_bytes() == body:
                return web.Response(status=200, text="already stored")
            raise web.HTTPConflict(text="a justification is already stored under this hash")
        self._enforce_quota(writer, len(body))
        tmp = _synced_temp(path, body)
        if not self.index.add_justification(
            StoredJustification(raw, writer.subject, writer.domain, len(body), self.clock())
        ):
            tmp.unlink(missing_ok=True)
            raise web.HTTPConflict(text="a justification is already stored under this hash")
        os.replace(tmp, path)
        return web.Response(status=201, text="stored")

    async def _get_justification(self, request: web.Request) -> web.Response:
        """Only the requester and the approvers of the request's policy when it was made may read it."""
        ref = request.match_info["ref"]
        path = self._justification_path(ref)
        signer = await self._signer(request, "get-justification", ref)
        reader = await self._ask(self.authorizer.writer, signer)
        item = self.index.justification(bytes.fromhex(ref[2:]))
        if reader is None or item is None:
            raise web.HTTPForbidden(text=f"{signer} may not read this justification")
        naming = self.index.justified_naming(item)
        if not naming:  # written moments ago: the store may not have seen its request yet
            await self._ask(self.learn)
            naming = self.index.justified_naming(item)
        allowed = any(reader.subject == r.subject or reader.subject in r.approvers for r in naming)
        if not allowed:
            raise web.HTTPForbidden(
                text=f"{signer} is neither the requester nor an approver of a request carrying this justification"
            )
        try:
            body = path.read_bytes()
        except FileNotFoundError as exc:  # purged a moment ago
            raise web.HTTPNotFound(text="no such justification") from exc
        return web.Response(body=body, content_type="application/octet-stream")

    def _justification_path(self, ref: str) -> Path:
        if not _HASH.match(ref):
            raise web.HTTPBadRequest(text="justification hash must be 0x + 64 lowercase hex digits")
        return self.justification_dir / ref[2:]

    # -- device encryption keys -----------------------------------------------------------------------------

    async def _put_key(self, request: web.Request) -> web.Response:
        """A device's signed X25519 key. The announcement is its own proof (deterministic per device key, so
        a replay changes nothing); only enrolled devices may leave one here."""
        device = self._device(request)
        try:
            announcement = KeyAnnouncement.from_json(await request.json(loads=_strict_json))
            verify_key(announcement, (await self._info()).chain_id, device)
        except (PayloadError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if not await self._known(announcement.device):
            raise web.HTTPForbidden(text=f"{device} is not an enrolled device")
        self.index.set_device_key(announcement.device, _json_text(announcement.to_json()))
        return web.Response(status=201, text="stored")

    async def _get_key(self, request: web.Request) -> web.Response:
        found = self.index.device_key(self._device(request))
        if found is None:
            raise web.HTTPNotFound(text="this device has not published an encryption key")
        return web.Response(text=found, content_type="application/json")

    @staticmethod
    def _device(request: web.Request) -> str:
        from eth_utils import to_checksum_address

        device = request.match_info["device"]
        if not _ADDRESS.match(device):
            raise web.HTTPBadRequest(text="device must be an 0x address")
        return to_checksum_address(device)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def _strict_json(text: str) -> Any:
    from pamchain.sdk.jsonsafe import loads

    return loads(text)


def _json_text(data: Any) -> str:
    import json

    return json.dumps(data, sort_keys=True)


class PayloadClient:
    """The client side, for requesters (put) and the oracle (get, delete)."""

    def __init__(self, url: str, *, timeout: float = 10.0, verify: bool | str = True) -> None:
        """``verify``: for an https store, False or the path of a CA bundle to trust instead of the system's."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.verify = verify
        self._session.trust_env = (
            False  # loopback service: never route it through a proxy from the environment
        )
        self._info: StoreInfo | None = None

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise PayloadStoreError(f"payload store unreachable at {self.url}") from exc
        if response.status_code >= 400:
            raise PayloadStoreError(
                f"payload store: {response.status_code} {response.text.strip()}", response.status_code
            )
        return response

    def info(self) -> StoreInfo:
        """The store's id and chain id (asked once): what every signature is bound to."""
        if self._info is None:
            try:
                data = self._request("GET", "/v1/info").json()
                self._info = StoreInfo(
                    str(data["store_id"]), int(data["chain_id"]), int(data["signature_window"])
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise PayloadStoreError(
                    f"{self.url} does not answer as a payload store (GET /v1/info)"
                ) from exc
        return self._info

    def signed_headers(
        self, account: LocalAccount, verb: str, digest: bytes, *, info: StoreInfo | None = None
    ) -> dict[str, str]:
        """The headers of one signed request for this store (each call a new nonce: one use only)."""
        return signed_headers(account, verb, "0x" + digest.hex(), info or self.info())

    def _call(
        self, method: str, account: LocalAccount, verb: str, digest: bytes, body: bytes | None = None
    ) -> requests.Response:
        headers = self.signed_headers(account, verb, digest)
        return self._request(method, f"/v1/payloads/0x{digest.hex()}", data=body, headers=headers)

    def put(self, account: LocalAccount, ciphertext: bytes) -> bytes:
        """Store a sealed payload; returns its hash, the value for ``request_password_reset``."""
        digest = keccak(ciphertext)
        self._call("PUT", account, "put", digest, ciphertext)
        return digest

    def get(self, account: LocalAccount, digest: bytes) -> bytes:
        body = self._call("GET", account, "get", digest).content
        if keccak(body) != digest:
            raise PayloadStoreError("payload store returned a payload that does not match its hash")
        return body

    def delete(self, account: LocalAccount, digest: bytes) -> None:
        self._call("DELETE", account, "delete", digest)

    # -- justifications and device keys ---------------------------------------------------------------------

    def put_justification(self, account: LocalAccount, justification_hash: bytes, envelope: bytes) -> None:
        """Store a sealed justification under the salted hash its elevation request will carry."""
        headers = self.signed_headers(account, "put-justification", justification_hash)
        self._request(
            "PUT", f"/v1/justifications/0x{justification_hash.hex()}", data=envelope, headers=headers
        )

    def get_justification(self, account: LocalAccount, justification_hash: bytes) -> bytes:
        """The sealed justification (only for the requester and the request's approvers)."""
        headers = self.signed_headers(account, "get-justification", justification_hash)
        return self._request(
            "GET", f"/v1/justifications/0x{justification_hash.hex()}", headers=headers
        ).content

    def publish_key(self, account: LocalAccount) -> bytes:
        """Publish this device's encryption key (signed for the store's chain); returns the public key."""
        announcement = announce_key(account, self.info().chain_id)
        self._request("PUT", f"/v1/keys/{account.address}", json=announcement.to_json())
        return announcement.public_key

    def device_key(self, device: str) -> KeyAnnouncement | None:
        """The key announcement a device left here, unverified (check it with ``verify_key``); None if none."""
        try:
            response = self._request("GET", f"/v1/keys/{device}")
        except PayloadStoreError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return KeyAnnouncement.from_json(response.json())
        except (ValueError, PayloadError) as exc:
            raise PayloadStoreError(f"the store returned a malformed key for {device}") from exc


class ServedStore(ServedApp):
    """Runs a :class:`PayloadStore` in a background thread: devnet, tests, and ``pamchain payload-store run``."""

    def __init__(
        self,
        store: PayloadStore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(store.app, host, port, name="payload-store", ssl_context=ssl_context)
        self.store = store

    @property
    def url(self) -> str:
        return self.base_url


class ChainAuthorizer:
    """Decides from the chain: writers are active principals' devices, each domain's payloads are read by that
    domain's registered oracle, and password-reset requests are learnt from ``RequestCreated`` events from
    ``start_block`` (the deployment's block) on."""

    def __init__(self, client: PamClient, *, start_block: int = 0, chunk: int = 2000) -> None:
        self.client = client
        self.start_block = start_block
        self.chunk = chunk
        self._lock = threading.Lock()
        self._next_block = start_block  # of the signer scan
        self._devices: dict[bytes, str] = {}  # directory id -> its current device
        self._oracles: set[str] = set()  # every account ever registered as an oracle

    def chain_id(self) -> int:
        return int(self.client.w3.eth.chain_id)

    def known_signers(self) -> frozenset[str]:
        """Devices ever enrolled (still current) and oracles, from the events since the last call."""
        with self._lock:
            head = int(self.client.w3.eth.block_number)
            names = ["PrincipalEnrolled", "DeviceRotated", "OracleSet"]
            for first in range(self._next_block, head + 1, self.chunk):
                for event in self.client.events(first, min(first + self.chunk - 1, head), names=names):
                    if not isinstance(event, GenericEvent):
                        continue
                    args = event.args
                    if event.event == "PrincipalEnrolled":
                        self._devices[bytes(args["directory_id"])] = str(args["device"])
                    elif event.event == "DeviceRotated":
                        self._devices[bytes(args["directory_id"])] = str(args["new_device"])
                    else:
                        self._oracles.add(str(args["oracle"]))
            self._next_block = max(self._next_block, head + 1)
            return frozenset(self._devices.values()) | frozenset(self._oracles)

    def writer(self, address: str) -> Writer | None:
        directory_id = self.client.principal_of(address)
        if directory_id == ZERO32:
            return None
        principal = self.client.principal(directory_id)
        if principal.status is not PrincipalStatus.ACTIVE:
            return None
        return Writer(directory_id, principal.domain)

    def is_domain_oracle(self, domain: bytes, address: str) -> bool:
        return self.client.is_domain_oracle(domain, address)

    def is_oracle(self, address: str) -> bool:
        return self.client.is_oracle(address)

    def password_resets(self, from_block: int) -> tuple[list[ResetRequest], int]:
        resets, _, next_block = self.named_requests(from_block)
        return resets, next_block

    def named_requests(self, from_block: int) -> tuple[list[ResetRequest], list[JustifiedRequest], int]:
        head = int(self.client.w3.eth.block_number)
        found: list[ResetRequest] = []
        justified: list[JustifiedRequest] = []
        for first in range(from_block, head + 1, self.chunk):
            for event in self.client.events(
                first, min(first + self.chunk - 1, head), names=["RequestCreated"]
            ):
                if not isinstance(event, RequestCreated):
                    continue
                if event.kind is Kind.PASSWORD_RESET:
                    found.append(
                        ResetRequest(event.request_id, event.payload_hash, event.subject, event.domain)
                    )
                elif event.kind is Kind.ELEVATE and event.justification_hash != ZERO32:
                    # The approver set as it stood at the request's block: who was asked to decide.
                    approvers = self.client.policy_approvers(event.target, block=event.at.block_number)
                    justified.append(
                        JustifiedRequest(
                            event.request_id, event.justification_hash, event.subject, event.target, approvers
                        )
                    )
        return found, justified, max(from_block, head + 1)

    def status(self, request_id: int) -> Status:
        return self.client.status(request_id)


def _synced_temp(path: Path, body: bytes) -> Path:
    """``body`` in a new mode-0600 file beside ``path``, on disk (fsync) before anyone renames it into place."""
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp
