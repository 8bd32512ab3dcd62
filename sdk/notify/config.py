"""The notifier's configuration file (TOML): chain, journal, channels, and who is who (kept off chain)."""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.model import to_bytes32
from pamchain.sdk.config_file import read_bytes, read_text, read_toml
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.follower import Finality

TLS_MODES = ("starttls", "implicit", "none")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$")
# Notifications are retried for hours, not seconds: a mail relay's maintenance window should not lose any.
NOTIFY_RETRY = Retry(max_attempts=30, base=2.0, cap=600.0)


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes and how: TLS is verified against ``ca_file`` (or the system store)."""

    host: str
    sender: str
    port: int = 587
    tls: str = "starttls"
    ca_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    timeout: float = 10.0

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return read_text(self.password_file, "smtp.password_file").strip()


@dataclass(frozen=True)
class WebhookEndpoint:
    """A receiver of signed JSON notifications; ``secret`` keys the HMAC and never leaves this host."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    timeout: float = 5.0


@dataclass(frozen=True)
class Recipient:
    """How one person or team is reached; ``key`` is a directory id (0x-hex) or a name in the config."""

    key: str
    email: str | None = None
    webhook: str | None = None

    def channels(self) -> list[str]:
        return [name for name, value in (("email", self.email), ("webhook", self.webhook)) if value]


@dataclass(frozen=True)
class NotifyConfig:
    """Everything the notifier needs; paths are resolved against the configuration file's folder."""

    rpc_url: str
    deployment: Path
    journal: Path
    finality: Finality = Finality()
    poll_interval: float = 1.0
    start: str | int = (
        "head"  # where a new journal begins: "head" (the current final block), "deployment", or a block
    )
    retry: Retry = NOTIFY_RETRY
    health_host: str = "127.0.0.1"
    health_port: int | None = None
    smtp: SmtpSettings | None = None
    webhooks: dict[str, WebhookEndpoint] = field(default_factory=dict)
    recipients: dict[str, Recipient] = field(default_factory=dict)
    security_officers: tuple[str, ...] = ()
    targets: dict[bytes, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NotifyConfig:
        data, base = read_toml(path, "notifier configuration")
        return cls.from_dict(data, base=base)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path = Path(".")) -> NotifyConfig:
        try:
            return _parse(data, base)
        except ConfigError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"bad notifier configuration: {exc}") from exc


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _required(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"missing {where}.{key}")
    return table[key]


def _positive(value: Any, where: str) -> float:
    number = float(value)
    if not number > 0:
        raise ConfigError(f"{where} must be positive, got {value!r}")
    return number


def _parse(data: dict[str, Any], base: Path) -> NotifyConfig:
    def path(value: Any) -> Path | None:
        return None if value is None else (base / str(value)).resolve()

    chain, notify = _table(data, "chain"), _table(data, "notify")
    retry = Retry(
        max_attempts=int(notify["max_attempts"]) if "max_attempts" in notify else NOTIFY_RETRY.max_attempts,
        base=_positive(notify.get("retry_base", NOTIFY_RETRY.base), "notify.retry_base"),
        cap=_positive(notify.get("retry_cap", NOTIFY_RETRY.cap), "notify.retry_cap"),
    )
    if retry.max_attempts is not None and retry.max_attempts < 1:
        raise ConfigError("notify.max_attempts must be at least 1")
    webhooks = {str(name): _webhook(str(name), spec, path) for name, spec in _table(data, "webhooks").items()}
    recipients: dict[str, Recipient] = {}
    for key, spec in _table(data, "recipients").items():
        recipient = _recipient(str(key), spec)
        if recipient.webhook is not None and recipient.webhook not in webhooks:
            raise ConfigError(f"recipients.{key}.webhook names no [webhooks.{recipient.webhook}]")
        recipients[recipient.key] = recipient
    smtp = _smtp(data["smtp"], path) if "smtp" in data else None
    if smtp is None and any(r.email for r in recipients.values()):
        raise ConfigError("recipients have e-mail addresses but there is no [smtp] table")
    officers = tuple(_key(str(k)) for k in notify.get("security_officers", []))
    for officer in officers:
        if officer not in recipients:
            raise ConfigError(f"security officer {officer!r} is not in [recipients]")
    targets = {to_bytes32(str(k)): str(v) for k, v in _table(data, "targets").items()}
    start = notify.get("start", "head")
    if start not in ("head", "deployment") and not (isinstance(start, int) and start >= 0):
        raise ConfigError('notify.start must be "head", "deployment" or a block number')
    return NotifyConfig(
        rpc_url=str(_required(chain, "rpc_url", "chain")),
        deployment=path(_required(chain, "deployment", "chain")),  # type: ignore[arg-type]
        journal=path(notify.get("journal", "notify-journal.sqlite3")),  # type: ignore[arg-type]
        finality=Finality.parse(chain.get("finality", "finalized")),
        poll_interval=_positive(chain.get("poll_interval", 1.0), "chain.poll_interval"),
        start=start,
        retry=retry,
        health_host=str(notify.get("health_host", "127.0.0.1")),
        health_port=int(notify["health_port"]) if "health_port" in notify else None,
        smtp=smtp,
        webhooks=webhooks,
        recipients=recipients,
        security_officers=officers,
        targets=targets,
    )


def _key(key: str) -> str:
    """Directory ids are written in one spelling (lower-case 0x-hex) so that events find them."""
    if key.lower().startswith("0x"):
        return "0x" + to_bytes32(key).hex()
    return key


def _recipient(key: str, spec: Any) -> Recipient:
    if not isinstance(spec, dict):
        raise ConfigError(f"[recipients.{key}] must be a table")
    unknown = set(spec) - {"email", "webhook"}
    if unknown:
        raise ConfigError(f"recipients.{key}: unknown keys {sorted(unknown)}")
    email = spec.get("email")
    if email is not None and not _EMAIL.match(str(email)):
        raise ConfigError(f"recipients.{key}.email is not an e-mail address")
    webhook = spec.get("webhook")
    if email is None and webhook is None:
        raise ConfigError(f"recipients.{key} has neither email nor webhook")
    return Recipient(
        _key(key), None if email is None else str(email), None if webhook is None else str(webhook)
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook(name: str, spec: Any, path: Any) -> WebhookEndpoint:
    if not isinstance(spec, dict):
        raise ConfigError(f"[webhooks.{name}] must be a table")
    url = str(_required(spec, "url", f"webhooks.{name}"))
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise ConfigError(f"webhooks.{name}.url must be an http(s) URL")
    if parsed.scheme == "http" and not _loopback(parsed.hostname):
        raise ConfigError(f"webhooks.{name}.url: plain http is allowed to loopback only, use https")
    secret_file = path(_required(spec, "secret_file", f"webhooks.{name}"))
    secret = read_bytes(secret_file, f"webhooks.{name}.secret_file").strip()
    if len(secret) < 16:
        raise ConfigError(f"webhooks.{name}.secret_file holds fewer than 16 bytes: too weak a key")
    return WebhookEndpoint(name, url, secret, _positive(spec.get("timeout", 5.0), f"webhooks.{name}.timeout"))


def _smtp(spec: Any, path: Any) -> SmtpSettings:
    if not isinstance(spec, dict):
        raise ConfigError("[smtp] must be a table")
    tls = str(spec.get("tls", "starttls"))
    if tls not in TLS_MODES:
        raise ConfigError(f"smtp.tls must be one of {', '.join(TLS_MODES)}")
    settings = SmtpSettings(
        host=str(_required(spec, "host", "smtp")),
        sender=str(_required(spec, "sender", "smtp")),
        port=int(spec.get("port", 465 if tls == "implicit" else 587)),
        tls=tls,
        ca_file=path(spec.get("ca_file")),
        username=None if spec.get("username") is None else str(spec["username"]),
        password_file=path(spec.get("password_file")),
        timeout=_positive(spec.get("timeout", 10.0), "smtp.timeout"),
    )
    if not _EMAIL.match(settings.sender):
        raise ConfigError("smtp.sender is not an e-mail address")
    if tls == "none" and (settings.username is not None or settings.password_file is not None):
        raise ConfigError("smtp: credentials are never sent without TLS (set tls = starttls or implicit)")
    if tls == "none" and not _loopback(settings.host):
        raise ConfigError("smtp: tls = none is allowed to a loopback relay only")
    if (settings.username is None) != (settings.password_file is None):
        raise ConfigError("smtp: username and password_file go together")
    if settings.ca_file is not None and not settings.ca_file.is_file():
        raise ConfigError(f"smtp.ca_file {settings.ca_file} does not exist")
    return settings
