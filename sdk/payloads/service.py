"""The payload store as a long-running service: its configuration (TOML and overrides) and its run loop."""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.config_file import read_toml
from pamchain.sdk.drain import Drain
from pamchain.sdk.errors import ConfigError, NodeUnavailable
from pamchain.sdk.payloads.store import MAX_AGE, ChainAuthorizer, PayloadStore, Quota, ServedStore

log = logging.getLogger("pamchain.payload_store")

_STORE_KEYS = {
    "data_dir",
    "host",
    "port",
    "max_payloads",
    "max_bytes",
    "orphan_ttl",
    "max_age",
    "purge_interval",
    "tls_cert",
    "tls_key",
    "store_id",
    "signer_refresh",
    "rate",
    "burst",
}


@dataclass(frozen=True)
class PayloadStoreConfig:
    """Everything ``pamchain payload-store run`` needs; paths in a file are relative to the file's folder."""

    rpc_url: str = "http://127.0.0.1:8545"
    deployment: Path = Path("deployment.json")
    data_dir: Path = Path("payloads")
    host: str = "127.0.0.1"
    port: int = 8547
    quota: Quota = field(default_factory=Quota)
    orphan_ttl: float = 3600.0
    max_age: float = MAX_AGE  # no payload or justification is kept longer, whatever its request says
    purge_interval: float = 60.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    store_id: str | None = None  # None: the id kept in data_dir (made at first start)
    signer_refresh: float = 2.0
    rate: float = 5.0
    burst: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not a TCP port (0-65535)")
        if self.orphan_ttl < 0:
            raise ConfigError("orphan_ttl must be 0 or more seconds")
        if self.max_age <= 0:
            raise ConfigError("max_age must be more than 0 seconds")
        if self.purge_interval <= 0:
            raise ConfigError("purge_interval must be more than 0 seconds")
        if self.signer_refresh < 0:
            raise ConfigError("signer_refresh must be 0 or more seconds")
        if self.rate <= 0 or self.burst < 1:
            raise ConfigError("rate must be more than 0 requests per second and burst at least 1")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                "TLS needs both tls_cert and tls_key (or neither, behind a TLS proxy or on loopback)"
            )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PayloadStoreConfig:
        data, base = read_toml(path, "payload store configuration")
        return cls.from_dict(data, base=base)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path = Path(".")) -> PayloadStoreConfig:
        """``[chain] rpc_url, deployment`` and ``[store] data_dir, host, port, max_payloads, max_bytes,
        orphan_ttl, max_age, purge_interval, tls_cert, tls_key, store_id, signer_refresh, rate, burst``; anything else
        is refused (a typo must not pass)."""
        chain, store = _table(data, "chain"), _table(data, "store")
        unknown = sorted(
            {f"[{k}]" for k in data if k not in ("chain", "store")}
            | {f"chain.{k}" for k in chain if k not in ("rpc_url", "deployment")}
            | {f"store.{k}" for k in store if k not in _STORE_KEYS}
        )
        if unknown:
            raise ConfigError(f"unknown payload store setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {
            "rpc_url": chain.get("rpc_url"),
            "deployment": chain.get("deployment"),
            **store,
        }
        for key in ("deployment", "data_dir", "tls_cert", "tls_key"):
            if values.get(key) is not None:
                values[key] = (base / str(values[key])).resolve()
        return cls().with_overrides(**values)

    def with_overrides(self, **values: Any) -> PayloadStoreConfig:
        """A copy with the given settings changed; None leaves a setting as it is (an option not given)."""
        given = {k: v for k, v in values.items() if v is not None}
        quota = self.quota
        try:
            if "max_payloads" in given or "max_bytes" in given:
                quota = Quota(
                    int(given.pop("max_payloads", quota.max_payloads)),
                    int(given.pop("max_bytes", quota.max_bytes)),
                )
            converters: dict[str, Callable[[Any], Any]] = {
                "rpc_url": str,
                "deployment": Path,
                "data_dir": Path,
                "host": str,
                "port": int,
                "orphan_ttl": float,
                "max_age": float,
                "purge_interval": float,
                "tls_cert": Path,
                "tls_key": Path,
                "store_id": str,
                "signer_refresh": float,
                "rate": float,
                "burst": int,
            }
            changes = {key: converters[key](value) for key, value in given.items()}
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"bad payload store setting: {exc}") from exc
        return dataclasses.replace(self, quota=quota, **changes)

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None or self.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the TLS certificate {self.tls_cert} and key {self.tls_key}: {exc}"
            ) from exc
        return context


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def build_store(config: PayloadStoreConfig) -> PayloadStore:
    """The store on the deployment named by ``config``, after one answer from its node."""
    if not config.deployment.exists():
        raise ConfigError(f"no deployment file at {config.deployment}")
    deployment = Deployment.load(config.deployment)
    w3 = connect(config.rpc_url)
    try:
        w3.eth.chain_id  # noqa: B018 (the probe: an absent node is one clear error at startup)
    except (requests.exceptions.RequestException, OSError) as exc:
        raise NodeUnavailable(f"no node answers at {config.rpc_url}") from exc
    authorizer = ChainAuthorizer(PamClient(w3, deployment.address), start_block=deployment.block)
    try:
        return _store(config, authorizer)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _store(config: PayloadStoreConfig, authorizer: ChainAuthorizer) -> PayloadStore:
    return PayloadStore(
        config.data_dir,
        authorizer,
        quota=config.quota,
        orphan_ttl=config.orphan_ttl,
        max_age=config.max_age,
        purge_interval=config.purge_interval,
        store_id=config.store_id,
        signer_refresh=config.signer_refresh,
        rate=config.rate,
        burst=config.burst,
    )


class PayloadService:
    """Startup (node probe, listen), serve until the first SIGINT/SIGTERM, then drain and close; a second
    signal exits at once (payload files are written atomically, so any exit point is safe)."""

    def __init__(self, config: PayloadStoreConfig) -> None:
        self.config = config
        self._drain = Drain(log)
        self._stop = self._drain.stopping

    def stop(self) -> None:
        self._stop.set()

    def run(
        self, *, on_ready: Callable[[str], None] = lambda url: None, install_signals: bool = True
    ) -> None:
        context = self.config.ssl_context()
        store = build_store(self.config)
        served = ServedStore(store, self.config.host, self.config.port, ssl_context=context)
        try:
            served.start()
        except OSError as exc:
            store.index.close()
            raise ConfigError(
                f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror or exc}"
            ) from exc
        if install_signals:
            self._drain.install()
        log.info("payload store started", extra={"url": served.url})
        on_ready(served.url)
        try:
            while not self._stop.wait(3600):
                pass
        finally:
            served.stop()
            store.index.close()
            log.info("payload store stopped")
