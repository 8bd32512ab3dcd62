"""A small hash-addressed store for sealed password payloads, run beside the node (like Tessera for GoQuorum).

Writes are signed by the requester's device key and accepted only from an active principal, within a quota;
reads and deletes are signed by the oracle of the writer's domain. Payloads are opaque sealed boxes addressed
by their keccak hash, so the store never sees a password and cannot substitute a payload for another. The
oracle deletes a payload once its receipt is on chain; the store purges those no request can use any more.
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
from aiohttp import web
from aiohttp.typedefs import Handler
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from .client import PamClient
from .errors import SdkError
from .events import GenericEvent, RequestCreated
from .model import ZERO32, Kind, PrincipalStatus, Status
from .payload_auth import NonceMemory, RateLimiter, SignatureRefused, StoreInfo, signed_headers, verify
from .payload_index import PayloadIndex, ResetRequest, StoredPayload
from .sealed import MAX_PAYLOAD_BYTES
from .served import ServedApp

log = logging.getLogger("pamchain.payload_store")
T = TypeVar("T")
_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_FILE = re.compile(r"^[0-9a-f]{64}$")
_STORE_ID = re.compile(r"^[0-9A-Za-z._-]{8,64}$")


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

    def password_resets(self, from_block: int) -> tuple[list[ResetRequest], int]:
        """Password-reset requests created from ``from_block`` on, and the next block to scan."""
        ...

    def status(self, request_id: int) -> Status: ...


_LIVE = frozenset({Status.PENDING, Status.APPROVED})  # a payload these requests name may still be used


@dataclass
class PayloadStore:
    """The server side: files named by hash under ``directory`` (mode 0700), written atomically, with an index
    beside them. A purge pass (every ``purge_interval`` seconds; None: only when :meth:`purge_once` is called)
    drops payloads no request can use any more: their writer's requests naming them are all final and not
    approved, or none names them ``orphan_ttl`` seconds after they were stored.

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
    store_id: str | None = None
    signer_refresh: float = 2.0
    rate: float = 5.0
    burst: int = 20

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
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

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES * 2 + 1024, middlewares=[self._rate_limit])
        app.router.add_get("/v1/info", self._info_route)
        app.router.add_put("/v1/payloads/{digest}", self._put)
        app.router.add_get("/v1/payloads/{digest}", self._get)
        app.router.add_delete("/v1/payloads/{digest}", self._delete)
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

    def purge_once(self) -> PurgeReport:
        """Learn the new password-reset requests from the chain, then drop every payload none can use."""
        with self._purge_lock:
            first = self.index.next_block(self.authorizer.start_block)
            resets, next_block = self.authorizer.password_resets(first)
            self.index.add_resets(resets, next_block)
            now = self.clock()
            purged = kept = 0
            for payload in self.index.payloads():
                if self._usable(payload, now):
                    kept += 1
                else:
                    self._remove(payload.digest)
                    purged += 1
            return PurgeReport(purged, kept, len(resets))

    def _usable(self, payload: StoredPayload, now: float) -> bool:
        naming = self.index.resets_naming(payload)
        if not naming:
            return now - payload.stored_at < self.orphan_ttl
        for reset in naming:
            status = reset.status
            if not status.is_final:  # final statuses never change: no need to ask again
                status = self.authorizer.status(reset.request_id)
                if status is not reset.status:
                    self.index.set_status(reset.request_id, status)
            if status in _LIVE:
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
        if request.path.startswith("/v1/payloads/") and not self._limiter.allow(request.remote or "?"):
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
        """Whether ``signer`` is in the chain's signer set; on a miss the set is read again, but no more
        often than every ``signer_refresh`` seconds, so random keys cannot make the store query the chain.
        A request that misses while a read is under way waits for that read."""
        if signer in self._signers:
            return True
        if self._refreshing is None:
            if time.monotonic() - self._signers_at < self.signer_refresh:
                return False
            self._signers_at = time.monotonic()
            self._refreshing = asyncio.ensure_future(self._ask(self.authorizer.known_signers))
            try:
                self._signers = await self._refreshing
            finally:
                self._refreshing = None
        else:
            await asyncio.shield(self._refreshing)
        return signer in self._signers

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
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
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

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


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
        head = int(self.client.w3.eth.block_number)
        found: list[ResetRequest] = []
        for first in range(from_block, head + 1, self.chunk):
            for event in self.client.events(
                first, min(first + self.chunk - 1, head), names=["RequestCreated"]
            ):
                if isinstance(event, RequestCreated) and event.kind is Kind.PASSWORD_RESET:
                    found.append(
                        ResetRequest(event.request_id, event.payload_hash, event.subject, event.domain)
                    )
        return found, max(from_block, head + 1)

    def status(self, request_id: int) -> Status:
        return self.client.status(request_id)
