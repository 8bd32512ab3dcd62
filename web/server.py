"""`pamchain web`: serves the phone app, its `/config.json`, and a same-origin relay to the node and payload store.

The relay holds no key and cannot change what the phone signed: JSON-RPC bodies are forwarded byte for byte
(only methods a phone needs are let through, so admin and debug methods stay unreachable even on a node that
enables them), and sealed payload PUTs are forwarded with their signature headers. Sealed justifications (PUT by
the requester, GET by its approvers, each signed by the device) and the devices' signed encryption keys are
forwarded the same way: the store checks every signature, the relay only passes bytes along. The
breached-password check answers hash ranges (k-anonymity), so no password or full hash ever reaches this server.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from pamchain.sdk import jsonsafe
from pamchain.sdk.directory import group_target_id
from pamchain.sdk.served import ServedApp

log = logging.getLogger("pamchain.web")

# What a phone needs: reads, fee data, and sending the raw transactions it signed.
RELAYED_METHODS = frozenset(
    {
        "eth_chainId",
        "net_version",
        "eth_blockNumber",
        "eth_call",
        "eth_estimateGas",
        "eth_getLogs",
        "eth_getBlockByNumber",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_sendRawTransaction",
        "eth_maxPriorityFeePerGas",
        "eth_gasPrice",
        "eth_feeHistory",
    }
)
MAX_RPC_BODY = 128 * 1024
# A phone never needs a bigger answer; the node caps its own responses too (--rpc-response-max-bytes), this
# keeps the relay's memory bounded whatever node it forwards to.
MAX_RPC_ANSWER = 4 * 1024 * 1024
MAX_PAYLOAD_BODY = 2 * 4096
_DIGEST = re.compile(r"^0x[0-9a-f]{64}$")
_PREFIX = re.compile(r"^[0-9a-f]{5}$")
_DEVICE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SIGNATURE_HEADERS = ("X-Pamchain-Time", "X-Pamchain-Nonce", "X-Pamchain-Signer", "X-Pamchain-Signature")
# A key announcement is a small JSON object (device, public key, signature).
MAX_KEY_BODY = 1024
CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# The app shell's files at the root besides index.html: the service worker and the web app manifest.
SHELL_FILES = {
    "sw.js": "text/javascript",
    "manifest.webmanifest": "application/manifest+json",
}
SESSION_DEFAULTS = {"idle_s": 300, "hidden_s": 60, "recent_auth_s": 120}


class WebError(Exception):
    """`pamchain web` cannot start with what it was given."""


def static_dir() -> Path:
    """The built app shipped in the package (web/static, built by `npm run build`)."""
    return Path(str(resources.files("pamchain.web").joinpath("static")))


@dataclass(frozen=True)
class WebConfig:
    """What the phone app is told in `/config.json`, plus where the relay forwards to."""

    rpc_url: str
    chain_id: int
    contract: str
    deployment_block: int
    reviews: str | None = None  # the PamReviews contract (access reviews), if the deployment has one
    payload_store_url: str | None = None
    domain_name: str | None = None
    # directory id (0x hex) -> {"label": shown to approvers, "account": sAMAccountName for the password rule}
    people: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)  # target id (0x hex) -> group DN
    kdf_log_n: int = 17  # scrypt N = 2**17 (ethers' default); lower only for demos and tests
    poll_ms: int = 1000
    # How long the phone waits for a passkey to answer (none attached, or the person hesitates) before it gives up.
    passkey_timeout_ms: int = 60_000
    demo_label: str | None = None  # devnet only: who a phone is enrolled as by the demo button
    # Sessions on the phone (web/src/session.js): the decrypted key is dropped after `idle_s` without use, or
    # `hidden_s` after the app went to the background; approvals, denials, break-glass, key export and
    # password changes ask for the passphrase again when it was typed more than `recent_auth_s` ago.
    session_idle_s: int = SESSION_DEFAULTS["idle_s"]
    session_hidden_s: int = SESSION_DEFAULTS["hidden_s"]
    recent_auth_s: int = SESSION_DEFAULTS["recent_auth_s"]
    # Host names (with or without :port) the app is reached by besides loopback: a request naming any other
    # Host is refused, so a DNS-rebinding page cannot read /config.json or use the relays.
    allowed_hosts: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        domain = None
        if self.domain_name:
            domain = "0x" + self.domain_name.encode().ljust(32, b"\x00").hex()
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "reviews": self.reviews,
            "deployment_block": self.deployment_block,
            "domain": domain,
            "domain_name": self.domain_name,
            "rpc_path": "rpc",
            "payload_path": "payloads",
            "breached_path": "api/breached-range/",
            "people": {k.lower(): dict(v) for k, v in self.people.items()},
            "groups": {k.lower(): v for k, v in self.groups.items()},
            "kdf_log_n": self.kdf_log_n,
            "poll_ms": self.poll_ms,
            "passkey_timeout_ms": self.passkey_timeout_ms,
            "demo": {"label": self.demo_label} if self.demo_label else None,
            "session": {
                "idle_s": self.session_idle_s,
                "hidden_s": self.session_hidden_s,
                "recent_auth_s": self.recent_auth_s,
            },
        }


def group_targets(dns: Iterable[str], pseudonym_key: bytes) -> dict[str, str]:
    """Group DNs keyed by their on-chain target id (keyed like principal ids, as the CLI and devnet compute it)."""
    return {"0x" + group_target_id(pseudonym_key, dn).hex(): dn for dn in dns}


def load_labels(path: str | Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """A labels file (TOML): `[people."0x<id>"] label = "...", account = "..."` and `[groups] "0x<id>" = "CN=..."`
    (ids from `pamchain policy target-id`; this server never holds the pseudonym key)."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WebError(f"{path}: {exc}") from exc
    people = {
        str(k).lower(): {str(a): str(b) for a, b in dict(v).items()}
        for k, v in data.get("people", {}).items()
    }
    raw_groups = data.get("groups", {})
    if not isinstance(raw_groups, dict):
        raise WebError(
            f"{path}: groups must be a table of on-chain id = DN (group ids are keyed since issue 16: print each "
            "with `pamchain policy target-id DN --pseudonym-key-file KEY`)"
        )
    groups = {str(k).lower(): str(v) for k, v in raw_groups.items()}
    return people, groups


class BreachedRanges:
    """SHA-256 of every breached password (case-folded), grouped by 5-hex-digit prefix."""

    def __init__(self, passwords: Iterable[str]) -> None:
        self._ranges: dict[str, list[str]] = {}
        for password in passwords:
            digest = hashlib.sha256(password.casefold().encode()).hexdigest()
            self._ranges.setdefault(digest[:5], []).append(digest[5:])

    @classmethod
    def shipped(cls) -> BreachedRanges:
        from pamchain.sdk.directory.password_policy import shipped_breached_passwords

        return cls(shipped_breached_passwords())

    def range(self, prefix: str) -> list[str]:
        return sorted(self._ranges.get(prefix, ()))


def _rpc_error(message: str, code: int = -32000, id_: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def _disallowed(body: bytes) -> str | None:
    """The first method the relay must not forward, or why the body is not JSON-RPC; None when fine."""
    try:
        payload = jsonsafe.loads(body)
    except jsonsafe.TooDeep:
        return "nested too deep"
    except ValueError:
        return "not JSON"
    calls = payload if isinstance(payload, list) else [payload]
    if not calls or len(calls) > 20:
        return "empty or oversized batch"
    for call in calls:
        method = call.get("method") if isinstance(call, dict) else None
        if method not in RELAYED_METHODS:
            return f"method {method!r} is not relayed"
    return None


class WebApp:
    """The aiohttp application: static app, config, relays, breached ranges."""

    def __init__(
        self,
        config: WebConfig,
        static: Path | None = None,
        demo_enrol: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.demo_enrol = demo_enrol
        self.static = static or static_dir()
        if not (self.static / "index.html").exists():
            raise WebError(f"no built app in {self.static}: run `npm ci && npm run build` in web/")
        for value, name in (
            (config.session_idle_s, "session idle time"),
            (config.session_hidden_s, "hidden-tab lock time"),
            (config.recent_auth_s, "recent-auth window"),
        ):
            if value <= 0:
                raise WebError(f"the {name} must be at least one second (got {value})")
        self.breached = BreachedRanges.shipped()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_RPC_BODY, middlewares=[self._headers, self._same_origin])
        app.router.add_get("/", self._index)
        app.router.add_get("/index.html", self._index)
        app.router.add_get("/config.json", self._config)
        app.router.add_post("/rpc", self._rpc)
        app.router.add_put("/payloads/v1/payloads/{digest}", self._payload)
        app.router.add_get("/payloads/v1/info", self._payload_info)
        app.router.add_put("/payloads/v1/justifications/{ref}", self._justification)
        app.router.add_get("/payloads/v1/justifications/{ref}", self._justification)
        app.router.add_put("/payloads/v1/keys/{device}", self._device_key)
        app.router.add_get("/payloads/v1/keys/{device}", self._device_key)
        app.router.add_get("/api/breached-range/{prefix}", self._breached)
        app.router.add_get("/healthz", self._health)
        for name in SHELL_FILES:
            app.router.add_get(f"/{name}", self._shell_file)
        if self.demo_enrol is not None:
            app.router.add_post("/api/demo-enrol", self._demo_enrol)
        app.router.add_static("/assets/", self.static / "assets", follow_symlinks=False)
        app.router.add_static("/icons/", self.static / "icons", follow_symlinks=False)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, app: web.Application) -> None:
        # trust_env=False: loopback services, never through a proxy from the environment.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), trust_env=False)

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    @web.middleware
    async def _headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Security headers on every response: errors and refusals included."""
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            response = web.Response(status=exc.status, text=exc.text, content_type="text/plain")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.path.startswith("/assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # hashed names
        else:
            response.headers["Cache-Control"] = "no-store"
        return response

    @web.middleware
    async def _same_origin(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Only this app, at a host name it answers to, may use it: Host allowlisted (DNS rebinding), writes
        same-origin with their exact content type (a cross-site form or text/plain POST never reaches a
        handler: only JSON or a byte payload, which a browser sends cross-site only after a preflight that
        this server never grants)."""
        host = request.headers.get("Host", "").casefold()
        if host not in self._allowed_hosts(request):
            raise web.HTTPMisdirectedRequest(text="unknown host name: add it with --allowed-host")
        if request.method in ("POST", "PUT", "DELETE", "PATCH"):
            origin = request.headers.get("Origin")
            # The host part only: behind the HTTPS reverse proxy the page is https:// and this server http://.
            if origin is not None and urlsplit(origin).netloc.casefold() != host:
                raise web.HTTPForbidden(text="cross-origin request refused")
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                raise web.HTTPForbidden(text="cross-site request refused")
            binary = request.method == "PUT" and not request.path.startswith("/payloads/v1/keys/")
            wanted = "application/octet-stream" if binary else "application/json"
            if request.content_type != wanted:
                raise web.HTTPUnsupportedMediaType(text=f"Content-Type must be {wanted}")
        return await handler(request)

    def _allowed_hosts(self, request: web.Request) -> frozenset[str]:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = sockname[1] if sockname else None
        names = {h.casefold() for h in self.config.allowed_hosts}
        names |= {f"{h.casefold()}:{port}" for h in self.config.allowed_hosts if ":" not in h}
        if port is not None:
            names |= {f"{loopback}:{port}" for loopback in ("127.0.0.1", "localhost", "[::1]")}
        return frozenset(names)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(self.static / "index.html")

    async def _shell_file(self, request: web.Request) -> web.StreamResponse:
        """The service worker and the manifest, with their own content types (a worker must be JavaScript)."""
        name = request.path.lstrip("/")
        path = self.static / name
        if not path.is_file():
            raise web.HTTPNotFound(text=f"{name} is not in this build: run `npm run build` in web/")
        return web.Response(body=path.read_bytes(), content_type=SHELL_FILES[name])

    async def _config(self, request: web.Request) -> web.Response:
        return web.json_response(self.config.public())

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _rpc(self, request: web.Request) -> web.Response:
        body = await request.read()
        refused = _disallowed(body)
        if refused is not None:
            return web.json_response(_rpc_error(f"relay: {refused}", -32601), status=403)
        assert self._session is not None
        try:
            async with self._session.post(
                self.config.rpc_url, data=body, headers={"Content-Type": "application/json"}
            ) as upstream:
                answer = bytearray()
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    answer += chunk
                    if len(answer) > MAX_RPC_ANSWER:
                        message = f"relay: answer over {MAX_RPC_ANSWER} bytes"
                        return web.json_response(_rpc_error(message, -32003), status=502)
                return web.Response(
                    body=bytes(answer), status=upstream.status, content_type="application/json"
                )
        except (TimeoutError, aiohttp.ClientError):
            return web.json_response(_rpc_error("relay: node unreachable"), status=502)

    async def _payload(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        if not _DIGEST.match(digest):
            raise web.HTTPBadRequest(text="payload hash must be 0x + 64 lowercase hex digits")
        return await self._forward(request, f"/v1/payloads/{digest}", MAX_PAYLOAD_BODY)

    async def _justification(self, request: web.Request) -> web.Response:
        """A sealed justification: stored by its requester, read by its approvers (the store decides who)."""
        ref = request.match_info["ref"]
        if not _DIGEST.match(ref):
            raise web.HTTPBadRequest(text="justification hash must be 0x + 64 lowercase hex digits")
        return await self._forward(request, f"/v1/justifications/{ref}", MAX_PAYLOAD_BODY)

    async def _device_key(self, request: web.Request) -> web.Response:
        """A device's signed encryption key: published by the phone, read by requesters sealing to it."""
        device = request.match_info["device"]
        if not _DEVICE.match(device):
            raise web.HTTPBadRequest(text="device must be an 0x address")
        return await self._forward(request, f"/v1/keys/{device}", MAX_KEY_BODY)

    async def _forward(self, request: web.Request, path: str, max_body: int) -> web.Response:
        """Pass one store request along: body, content type and signature headers as the phone sent them."""
        if self.config.payload_store_url is None:
            raise web.HTTPNotFound(text="no payload store configured (--payload-store-url)")
        body = await request.read() if request.method == "PUT" else None
        if body is not None and len(body) > max_body:
            raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=len(body))
        headers = {name: request.headers[name] for name in _SIGNATURE_HEADERS if name in request.headers}
        if body is not None:
            headers["Content-Type"] = request.content_type
        assert self._session is not None
        url = f"{self.config.payload_store_url.rstrip('/')}{path}"
        try:
            async with self._session.request(request.method, url, data=body, headers=headers) as upstream:
                answer = bytearray()
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    answer += chunk
                    if len(answer) > max_body:
                        return web.Response(text="payload store answer too large", status=502)
                if upstream.status < 400 and request.method == "GET":
                    return web.Response(
                        body=bytes(answer), status=upstream.status, content_type=upstream.content_type
                    )
                return web.Response(text=bytes(answer).decode("utf-8", "replace"), status=upstream.status)
        except (TimeoutError, aiohttp.ClientError):
            return web.Response(text="payload store unreachable", status=502)

    async def _payload_info(self, request: web.Request) -> web.Response:
        """The store's id and chain id, which the phone binds its payload signature to."""
        if self.config.payload_store_url is None:
            raise web.HTTPNotFound(text="no payload store configured (--payload-store-url)")
        assert self._session is not None
        try:
            async with self._session.get(f"{self.config.payload_store_url.rstrip('/')}/v1/info") as upstream:
                return web.Response(
                    body=await upstream.read(), status=upstream.status, content_type="application/json"
                )
        except (TimeoutError, aiohttp.ClientError):
            return web.Response(text="payload store unreachable", status=502)

    async def _demo_enrol(self, request: web.Request) -> web.Response:
        """Devnet only: the council's demo keys enrol this phone's address (never enabled by `pamchain web`)."""
        try:
            address = str(jsonsafe.loads(await request.read())["address"])
        except (ValueError, KeyError, TypeError) as exc:
            raise web.HTTPBadRequest(text='expected {"address": "0x..."}') from exc
        if not re.match(r"^0x[0-9a-fA-F]{40}$", address):
            raise web.HTTPBadRequest(text="not an address")
        assert self.demo_enrol is not None
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.demo_enrol, address)
        except Exception as exc:  # shown to the demo user; the devnet keeps running
            return web.Response(status=409, text=str(exc))
        return web.json_response({"enrolled": address})

    async def _breached(self, request: web.Request) -> web.Response:
        prefix = request.match_info["prefix"].lower()
        if not _PREFIX.match(prefix):
            raise web.HTTPBadRequest(text="prefix must be 5 hex digits")
        return web.json_response(self.breached.range(prefix))


class WebHandle(ServedApp):
    """A running `pamchain web` on a background thread: `.url` and `.stop()` (devnet, tests)."""

    def __init__(self, app: WebApp, host: str, port: int) -> None:
        super().__init__(app.app, host, port, name="pamchain-web")
        self.app = app

    @property
    def url(self) -> str:
        return self.base_url + "/"


def start_web(
    *,
    rpc_url: str,
    deployment: Any,
    payload_store_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    domain_name: str | None = None,
    people: Mapping[str, Mapping[str, str]] | None = None,
    groups: Mapping[str, str] | None = None,
    kdf_log_n: int = 17,
    poll_ms: int = 1000,
    passkey_timeout_ms: int = 60_000,
    demo_label: str | None = None,
    demo_enrol: Callable[[str], None] | None = None,
    allowed_hosts: tuple[str, ...] = (),
    session_idle_s: int = SESSION_DEFAULTS["idle_s"],
    session_hidden_s: int = SESSION_DEFAULTS["hidden_s"],
    recent_auth_s: int = SESSION_DEFAULTS["recent_auth_s"],
) -> WebHandle:
    """Serve the phone app on ``host:port`` in a background thread; returns a handle with ``.url``/``.stop()``.

    ``deployment`` is a :class:`pamchain.sdk.chain.client.Deployment` (or a path to its file).
    """
    from pamchain.sdk.chain.client import Deployment

    if not isinstance(deployment, Deployment):
        deployment = Deployment.load(deployment)
    config = WebConfig(
        rpc_url=rpc_url,
        chain_id=deployment.chain_id,
        contract=deployment.address,
        reviews=deployment.reviews,
        deployment_block=deployment.block,
        payload_store_url=payload_store_url,
        domain_name=domain_name,
        people=dict(people or {}),
        groups=dict(groups or {}),
        kdf_log_n=kdf_log_n,
        poll_ms=poll_ms,
        passkey_timeout_ms=passkey_timeout_ms,
        demo_label=demo_label if demo_enrol is not None else None,
        allowed_hosts=tuple(allowed_hosts),
        session_idle_s=session_idle_s,
        session_hidden_s=session_hidden_s,
        recent_auth_s=recent_auth_s,
    )
    return WebHandle(WebApp(config, demo_enrol=demo_enrol), host, port).start()


__all__ = ["RELAYED_METHODS", "WebApp", "WebConfig", "WebError", "WebHandle", "load_labels", "start_web"]
