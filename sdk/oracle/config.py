"""The oracle's configuration file (TOML): chain, identity, directory, and the off-chain id tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.model import to_bytes32
from pamchain.sdk.config_file import read_toml
from pamchain.sdk.errors import ConfigError
from pamchain.sdk.oracle.executor import REMOVAL_RETRY, Retry
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.oracle.heads import ws_url_for


def bytes32_label(text: str) -> bytes:
    """A short ASCII label (a DC name such as ``DC1``) or 0x-hex as bytes32."""
    if text.startswith("0x"):
        return to_bytes32(text)
    raw = text.encode("ascii")
    if len(raw) > 32:
        raise ConfigError(f"label longer than 32 characters: {text!r}")
    return raw.ljust(32, b"\x00")


_RETRY = Retry()


@dataclass(frozen=True)
class OracleConfig:
    """Everything the daemon needs; paths are resolved against the configuration file's folder."""

    rpc_url: str
    deployment: Path
    keystore: Path
    password_file: Path | None
    domain: bytes
    dc_id: bytes
    journal: Path
    finality: Finality = Finality()
    poll_interval: float = 0.5
    # The node's WebSocket for the newHeads subscription that starts a tick at each block (default: beside
    # rpc_url); None: no subscription, a tick every poll_interval.
    ws_url: str | None = None
    payload_store: str | None = None
    pseudonym_key_file: Path | None = None
    reconcile_interval: float = 60.0
    remove_drift: bool = False
    watch_leavers: bool = True  # check the domain's principals' AD accounts and report leavers on chain
    leavers_interval: float = 60.0  # seconds between leaver passes (0: every tick)
    leavers_ou: str | None = None  # accounts moved under this OU count as leavers
    retry: Retry = Retry()
    removal_retry: Retry = REMOVAL_RETRY
    late_after: float = 60.0
    health_host: str = "127.0.0.1"
    health_port: int | None = None
    directory: dict[str, Any] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    baseline: dict[str, list[str]] = field(default_factory=dict)
    verify: str = "clique"  # "none": take the endpoint's word (dev chains without Clique seals)
    anchor_block: int | None = None  # trusted block for the light client (default: the deployment block)
    anchor_hash: str | None = None  # its hash (default: the deployment file's block_hash)
    epoch: int = 30_000  # the chain's Clique epoch (genesis config.clique.epoch)
    # A standby oracle of a domain with several (one per DC site): seconds it leaves unlocks, adds and resets to
    # the others before acting itself (removals never wait). 0: act at once.
    takeover_after: float = 0.0
    # The domain's X25519 secret (64 hex digits), shared by all its oracles; default: derived from the keystore.
    encryption_key_file: Path | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OracleConfig:
        data, base = read_toml(path, "oracle configuration")
        return cls.from_dict(data, base=base)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path = Path(".")) -> OracleConfig:
        def section(name: str) -> dict[str, Any]:
            value = data.get(name, {})
            if not isinstance(value, dict):
                raise ConfigError(f"[{name}] must be a table")
            return value

        def required(table: dict[str, Any], key: str, where: str) -> Any:
            if key not in table:
                raise ConfigError(f"missing {where}.{key}")
            return table[key]

        def path(value: str | None) -> Path | None:
            return None if value is None else (base / value).resolve()

        chain, oracle = section("chain"), section("oracle")
        try:
            retry = Retry(
                max_attempts=int(oracle["max_attempts"]) if "max_attempts" in oracle else _RETRY.max_attempts,
                base=float(oracle.get("retry_base", _RETRY.base)),
                cap=float(oracle.get("retry_cap", _RETRY.cap)),
            )
            removal_retry = Retry(
                max_attempts=None,  # a removal is retried until AD confirms it
                base=REMOVAL_RETRY.base,
                cap=float(oracle.get("removal_retry_cap", REMOVAL_RETRY.cap)),
            )
            return cls(
                rpc_url=str(required(chain, "rpc_url", "chain")),
                deployment=path(required(chain, "deployment", "chain")),  # type: ignore[arg-type]
                keystore=path(required(oracle, "keystore", "oracle")),  # type: ignore[arg-type]
                password_file=path(oracle.get("password_file")),
                domain=bytes32_label(str(required(oracle, "domain", "oracle"))),
                dc_id=bytes32_label(str(required(oracle, "dc_id", "oracle"))),
                journal=path(oracle.get("journal", "oracle-journal.sqlite3")),  # type: ignore[arg-type]
                finality=Finality.parse(chain.get("finality", "finalized")),
                poll_interval=float(chain.get("poll_interval", 0.5)),
                ws_url=_ws_url(chain.get("ws_url"), str(required(chain, "rpc_url", "chain"))),
                payload_store=oracle.get("payload_store"),
                pseudonym_key_file=path(oracle.get("pseudonym_key_file")),
                reconcile_interval=float(oracle.get("reconcile_interval", 60.0)),
                remove_drift=bool(oracle.get("remove_drift", False)),
                watch_leavers=bool(oracle.get("watch_leavers", True)),
                leavers_interval=_non_negative(oracle.get("leavers_interval", 60.0), "leavers_interval"),
                leavers_ou=_leavers_ou(oracle.get("leavers_ou")),
                retry=retry,
                removal_retry=removal_retry,
                late_after=float(oracle.get("late_removal_alarm", 60.0)),
                health_host=str(oracle.get("health_host", "127.0.0.1")),
                health_port=int(oracle["health_port"]) if "health_port" in oracle else None,
                directory=section("directory"),
                accounts={str(k): str(v) for k, v in section("accounts").items()},
                groups={str(k): str(v) for k, v in section("groups").items()},
                baseline={str(k): [str(m) for m in v] for k, v in section("baseline").items()},
                verify=_verify_mode(chain.get("verify", "clique")),
                anchor_block=int(chain["anchor_block"]) if "anchor_block" in chain else None,
                anchor_hash=_anchor_hash(chain.get("anchor_hash")),
                epoch=_epoch(chain.get("epoch", 30_000)),
                takeover_after=_non_negative(oracle.get("takeover_after", 0.0), "takeover_after"),
                encryption_key_file=path(oracle.get("encryption_key_file")),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"bad oracle configuration: {exc}") from exc


def _ws_url(value: object, rpc_url: str) -> str | None:
    if value is None:
        try:
            return ws_url_for(rpc_url)
        except ValueError:
            return None
    text = str(value).strip()
    if text in ("", "none"):
        return None
    if not text.startswith(("ws://", "wss://")):
        raise ConfigError(f"[chain] ws_url must be a ws:// or wss:// URL, or 'none', not {text!r}")
    return text


def _verify_mode(value: object) -> str:
    if value not in ("clique", "none"):
        raise ConfigError(f"[chain] verify must be 'clique' or 'none', not {value!r}")
    return str(value)


def _anchor_hash(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    try:
        ok = len(bytes.fromhex(text.removeprefix("0x"))) == 32
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"[chain] anchor_hash must be a 32-byte hex block hash, not {text!r}")
    return text


def _epoch(value: object) -> int:
    epoch = int(str(value))
    if epoch <= 0:
        raise ConfigError(f"[chain] epoch must be a positive block count, not {value!r}")
    return epoch


def _leavers_ou(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if "=" not in text:
        raise ConfigError(f"[oracle] leavers_ou must be a DN (OU=Leavers,DC=...), not {value!r}")
    return text


def _non_negative(value: Any, key: str) -> float:
    number = float(value)
    if number < 0:
        raise ConfigError(f"[oracle] {key} must be zero or more seconds")
    return number
