"""A small hash-addressed store for sealed password payloads, run beside the node (like Tessera for GoQuorum).

Writes are signed by the requester's device key and accepted only from an active principal; reads and
deletes are signed by an oracle. Payloads are opaque sealed boxes addressed by their keccak hash, so the
store never sees a password and cannot substitute a payload for another. The oracle deletes a payload once
its receipt is on chain.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from .errors import SdkError
from .sealed import MAX_PAYLOAD_BYTES
from .served import ServedApp

_HASH = re.compile(r"^0x[0-9a-f]{64}$")
SIGNATURE_WINDOW = 120  # seconds a signed read/delete stays valid: bounds replay of a captured request


class PayloadStoreError(SdkError):
    """The payload store refused a request or could not be reached."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Authorizer(Protocol):
    """Who may write (active principals) and who may read and delete (oracles)."""

    def may_write(self, address: str) -> bool: ...

    def may_read(self, address: str) -> bool: ...


def _message(verb: str, digest: str, timestamp: int) -> str:
    return f"pamchain-payload:{verb}:{digest}:{timestamp}"


def _sign(account: LocalAccount, verb: str, digest: str, timestamp: int) -> str:
    return account.sign_message(encode_defunct(text=_message(verb, digest, timestamp))).signature.to_0x_hex()


def _recover(verb: str, digest: str, timestamp: int, signature: str) -> str:
    return Account.recover_message(
        encode_defunct(text=_message(verb, digest, timestamp)), signature=signature
    )


@dataclass
class PayloadStore:
    """The server side: files named by hash under ``directory`` (mode 0700), written atomically."""

    directory: Path
    authorizer: Authorizer
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES * 2 + 1024)
        app.router.add_put("/v1/payloads/{digest}", self._put)
        app.router.add_get("/v1/payloads/{digest}", self._get)
        app.router.add_delete("/v1/payloads/{digest}", self._delete)
        app.router.add_get("/healthz", self._health)
        return app

    def _path(self, digest: str) -> Path:
        if not _HASH.match(digest):
            raise web.HTTPBadRequest(text="payload hash must be 0x + 64 lowercase hex digits")
        return self.directory / digest[2:]

    def _signer(self, request: web.Request, verb: str, digest: str) -> str:
        try:
            timestamp = int(request.headers["X-Pamchain-Time"])
            signature = request.headers["X-Pamchain-Signature"]
        except (KeyError, ValueError) as exc:
            raise web.HTTPUnauthorized(text="missing or malformed signature headers") from exc
        if abs(self.clock() - timestamp) > SIGNATURE_WINDOW:
            raise web.HTTPUnauthorized(text="signature outside its time window")
        try:
            return _recover(verb, digest, timestamp, signature)
        except Exception as exc:  # eth-account raises several types for bad signatures
            raise web.HTTPUnauthorized(text="bad signature") from exc

    async def _authorize(self, check: Callable[[str], bool], address: str) -> None:
        allowed = await asyncio.get_running_loop().run_in_executor(None, check, address)
        if not allowed:
            raise web.HTTPForbidden(text=f"{address} may not do this")

    async def _put(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        path = self._path(digest)
        signer = self._signer(request, "put", digest)
        body = await request.read()
        if not body or len(body) > MAX_PAYLOAD_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_PAYLOAD_BYTES, actual_size=len(body))
        if "0x" + keccak(body).hex() != digest:
            raise web.HTTPBadRequest(text="payload does not match its hash")
        await self._authorize(self.authorizer.may_write, signer)
        if path.exists():
            return web.Response(status=200, text="already stored")
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return web.Response(status=201, text="stored")

    async def _get(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        path = self._path(digest)
        await self._authorize(self.authorizer.may_read, self._signer(request, "get", digest))
        if not path.exists():
            raise web.HTTPNotFound(text="no such payload")
        return web.Response(body=path.read_bytes(), content_type="application/octet-stream")

    async def _delete(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        path = self._path(digest)
        await self._authorize(self.authorizer.may_read, self._signer(request, "delete", digest))
        path.unlink(missing_ok=True)
        return web.Response(status=204)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


class PayloadClient:
    """The client side, for requesters (put) and the oracle (get, delete)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = (
            False  # loopback service: never route it through a proxy from the environment
        )

    def _call(
        self, method: str, account: LocalAccount, verb: str, digest: str, body: bytes | None = None
    ) -> requests.Response:
        timestamp = int(time.time())
        headers = {
            "X-Pamchain-Time": str(timestamp),
            "X-Pamchain-Signature": _sign(account, verb, digest, timestamp),
        }
        try:
            response = self._session.request(
                method, f"{self.url}/v1/payloads/{digest}", data=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise PayloadStoreError(f"payload store unreachable at {self.url}") from exc
        if response.status_code >= 400:
            raise PayloadStoreError(
                f"payload store: {response.status_code} {response.text.strip()}", response.status_code
            )
        return response

    def put(self, account: LocalAccount, ciphertext: bytes) -> bytes:
        """Store a sealed payload; returns its hash, the value for ``request_password_reset``."""
        digest = keccak(ciphertext)
        self._call("PUT", account, "put", "0x" + digest.hex(), ciphertext)
        return digest

    def get(self, account: LocalAccount, digest: bytes) -> bytes:
        body = self._call("GET", account, "get", "0x" + digest.hex()).content
        if keccak(body) != digest:
            raise PayloadStoreError("payload store returned a payload that does not match its hash")
        return body

    def delete(self, account: LocalAccount, digest: bytes) -> None:
        self._call("DELETE", account, "delete", "0x" + digest.hex())


class ServedStore(ServedApp):
    """Runs a :class:`PayloadStore` on a loopback port in a background thread (devnet, tests)."""

    def __init__(self, store: PayloadStore, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(store.app, host, port, name="payload-store")
        self.store = store

    @property
    def url(self) -> str:
        return self.base_url


class ChainAuthorizer:
    """Decides from the chain: writers are active principals' devices, readers are registered oracles."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def may_write(self, address: str) -> bool:
        from .model import ZERO32, PrincipalStatus

        directory_id = self.client.principal_of(address)
        return directory_id != ZERO32 and self.client.principal(directory_id).status is PrincipalStatus.ACTIVE

    def may_read(self, address: str) -> bool:
        return bool(self.client.is_oracle(address))
