"""Options and parameter types every ``pamchain`` command shares, and the session they fill in."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

RPC_URL_ENV = "PAMCHAIN_RPC_URL"
DEPLOYMENT_ENV = "PAMCHAIN_DEPLOYMENT"
KEYSTORE_ENV = "PAMCHAIN_KEYSTORE"
ACCOUNT_ENV = "PAMCHAIN_ACCOUNT"
PAYLOAD_STORE_ENV = "PAMCHAIN_PAYLOAD_STORE"
PSEUDONYM_KEY_ENV = "PAMCHAIN_PSEUDONYM_KEY_FILE"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_DEPLOYMENT = "deployment.json"
DEFAULT_KEYSTORE = Path("~/.pamchain/keystore")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    """What the shared options said; commands ask it for a connection, a key or a client."""

    rpc_url: str = DEFAULT_RPC_URL
    deployment_path: Path | None = None
    keystore: Path | None = None
    account: str | None = None
    password_file: Path | None = None
    pseudonym_key_file: Path | None = None
    as_json: bool = False
    _w3: Any = field(default=None, repr=False)
    _rpc: Any = field(default=None, repr=False)

    # -- keys --------------------------------------------------------------------------------------------

    def keystore_dir(self) -> Path:
        path = self.keystore or DEFAULT_KEYSTORE
        return path.expanduser()

    def keystore_file(self) -> Path:
        """The keystore file chosen by ``--keystore`` (a file, or a folder plus ``--account``)."""
        from pamchain.sdk.errors import ConfigError
        from pamchain.sdk.keys import keystore_address

        path = self.keystore_dir()
        if path.is_file():
            return path
        if not path.is_dir():
            raise ConfigError(f"no keystore at {path}: pass --keystore FILE|DIR or set {KEYSTORE_ENV}")
        files = list_keystores(path)
        if self.account is not None:
            wanted = self.account.lower().removeprefix("0x")
            matches = [f for f in files if keystore_address(f).lower().removeprefix("0x").startswith(wanted)]
            if len(matches) != 1:
                found = "no key" if not matches else f"{len(matches)} keys"
                raise ConfigError(f"{found} matching --account {self.account} in {path}")
            return matches[0]
        if len(files) == 1:
            return files[0]
        if not files:
            raise ConfigError(f"no keystore files in {path}: create one with `pamchain keys new`")
        raise ConfigError(f"{len(files)} keys in {path}: choose one with --account ADDRESS")

    def passphrase(self, prompt: str = "Keystore passphrase") -> str:
        """From ``--password-file``, else ``PAMCHAIN_PASSWORD``, else a hidden prompt; never from argv."""
        from pamchain.sdk.keys import read_passphrase

        secret = read_passphrase(file=self.password_file)
        if secret is None:
            secret = click.prompt(prompt, hide_input=True, err=True)
        return secret

    def signer(self) -> Any:
        """The decrypted account of the chosen keystore."""
        from pamchain.sdk.keys import load_account

        path = self.keystore_file()
        return load_account(path, self.passphrase(f"Passphrase for {path.name}"))

    # -- chain -------------------------------------------------------------------------------------------

    def w3(self) -> Any:
        """A connection that has answered once: an absent node is one clear error, not a traceback."""
        if self._w3 is None:
            import requests
            from pamchain.sdk.chain.client import connect
            from pamchain.sdk.errors import NodeUnavailable

            w3 = connect(self.rpc_url, timeout=30)
            try:
                w3.eth.chain_id  # noqa: B018 (the probe)
            except (requests.exceptions.RequestException, OSError) as exc:
                raise NodeUnavailable(
                    f"no node answers at {self.rpc_url} (set --rpc-url or {RPC_URL_ENV})"
                ) from exc
            self._w3 = w3
        return self._w3

    def rpc(self) -> Any:
        """Raw JSON-RPC to the node (no web3): what read-only commands go through."""
        if self._rpc is None:
            from pamchain.sdk.chain.jsonrpc import ChainRpc

            self._rpc = ChainRpc(self.rpc_url, timeout=30)
        return self._rpc

    def reader(self) -> Any:
        """A :class:`ChainReader` on the deployment: the reads of :meth:`client` without importing web3."""
        from pamchain.sdk.chain.reader import ChainReader
        from pamchain.sdk.errors import NodeUnavailable

        deployment = self.deployment()
        try:
            return ChainReader.from_deployment(self.rpc(), deployment)
        except NodeUnavailable as exc:
            raise NodeUnavailable(
                f"no node answers at {self.rpc_url} (set --rpc-url or {RPC_URL_ENV})"
            ) from exc

    def deployment(self) -> Any:
        from pamchain.sdk.chain.deployment import Deployment
        from pamchain.sdk.errors import ConfigError

        path = (self.deployment_path or Path(DEFAULT_DEPLOYMENT)).expanduser()
        if not path.exists():
            raise ConfigError(f"no deployment file at {path}: pass --deployment or set {DEPLOYMENT_ENV}")
        return Deployment.load(path)

    def client(self, *, signed: bool = True) -> Any:
        """A :class:`PamClient` on the deployment, acting as the chosen key when ``signed``."""
        from pamchain.sdk.chain.client import PamClient

        deployment = self.deployment()  # local mistakes first, then the passphrase, then the network
        account = self.signer() if signed else None
        return PamClient.from_deployment(self.w3(), deployment, account)


def list_keystores(folder: Path) -> list[Path]:
    """Keystore files in ``folder`` (``*.json`` with an address), sorted; an absent folder holds none."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.suffix == ".json" or path.name.startswith("UTC--")):
            try:
                if "address" in json.loads(path.read_text(encoding="utf-8")):
                    out.append(path)
            except (OSError, ValueError):
                continue
    return out


def session() -> Session:
    return click.get_current_context().ensure_object(Session)


def _store(
    name: str, convert: Callable[[Any], Any] = lambda v: v
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(Session), name, convert(value))
        return value

    return callback


def _path(value: str) -> Path:
    return Path(value).expanduser()


rpc_option = click.option(
    "--rpc-url",
    envvar=RPC_URL_ENV,
    default=DEFAULT_RPC_URL,
    show_default=True,
    expose_value=False,
    callback=_store("rpc_url"),
    help=f"The node's JSON-RPC URL [env {RPC_URL_ENV}].",
)
deployment_option = click.option(
    "--deployment",
    envvar=DEPLOYMENT_ENV,
    expose_value=False,
    callback=_store("deployment_path", _path),
    help=f"Deployment file written by `pamchain deploy` [env {DEPLOYMENT_ENV}; default ./{DEFAULT_DEPLOYMENT}].",
)
keystore_option = click.option(
    "--keystore",
    envvar=KEYSTORE_ENV,
    expose_value=False,
    callback=_store("keystore", _path),
    help=f"Keystore file, or a folder of them [env {KEYSTORE_ENV}; default {DEFAULT_KEYSTORE}].",
)
account_option = click.option(
    "--account",
    envvar=ACCOUNT_ENV,
    expose_value=False,
    callback=_store("account"),
    help=f"Address (or its start) of the key to use when the keystore folder holds several [env {ACCOUNT_ENV}].",
)
password_file_option = click.option(
    "--password-file",
    expose_value=False,
    type=click.Path(dir_okay=False),
    callback=_store("password_file", _path),
    help="File whose first line is the keystore passphrase (else env PAMCHAIN_PASSWORD, else a hidden prompt).",
)
pseudonym_key_option = click.option(
    "--pseudonym-key-file",
    envvar=PSEUDONYM_KEY_ENV,
    expose_value=False,
    is_eager=True,  # read before a TARGET argument is converted
    type=click.Path(dir_okay=False),
    callback=_store("pseudonym_key_file", _path),
    help=f"The deployment's pseudonym key (hex), to turn a group DN into its on-chain id [env {PSEUDONYM_KEY_ENV}].",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, expose_value=False, callback=_store("as_json"), help="Print JSON."
)


def repeatable(flag: str, dest: str, kind: click.ParamType, help: str) -> Callable[[F], F]:
    """An option given any number of times; the command gets them as a tuple (empty when never given)."""
    return click.option(flag, dest, multiple=True, type=kind, help=help)


def choice_option(flag: str, choices: Sequence[str], default: str, help: str) -> Callable[[F], F]:
    """One word of ``choices``, ``default`` when not given (shown in ``--help``)."""
    return click.option(flag, type=click.Choice(list(choices)), default=default, show_default=True, help=help)


# The daemons' (oracle, notifier, payload store) logging threshold.
log_level_option = choice_option(
    "--log-level", ("debug", "info", "warning", "error"), "info", "Log this level and above."
)


def compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(fn: F) -> F:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


chain_options = compose(rpc_option, deployment_option)
key_options = compose(keystore_option, account_option, password_file_option)
signer_options = compose(
    rpc_option, deployment_option, keystore_option, account_option, password_file_option, json_option
)
reader_options = compose(rpc_option, deployment_option, json_option)


# -- parameter types ---------------------------------------------------------------------------------------


class Bytes32Type(click.ParamType):
    """A 0x-prefixed 32-byte hex value (directory ids, hashes)."""

    name = "BYTES32"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes):
            return value
        from pamchain.sdk.chain.model import to_bytes32

        try:
            return to_bytes32(str(value))
        except ValueError:
            self.fail(f"{value!r} is not 0x + 64 hex digits", param, ctx)


class DomainType(click.ParamType):
    """A domain id: short text (e.g. ``corp.example``, right-padded to 32 bytes) or 0x + 64 hex digits."""

    name = "DOMAIN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes):
            return value
        text = str(value)
        if text.startswith("0x") and len(text) == 66:
            return BYTES32.convert(text, param, ctx)
        raw = text.encode("utf-8")
        if not raw or len(raw) > 32:
            self.fail(f"{value!r}: a domain name is 1 to 32 bytes (or 0x + 64 hex digits)", param, ctx)
        return raw.ljust(32, b"\x00")


TARGET_TEXT = "pamchain.target_text"


def group_name(target: bytes) -> str:
    """The group as the user typed it (its CN for a DN), else its short id: for messages about ``target``."""
    ctx = click.get_current_context(silent=True)
    text = str(ctx.meta.get(TARGET_TEXT, "")) if ctx is not None else ""
    if text.upper().startswith("CN="):
        return text[3:].split(",", 1)[0].replace("\\", "")
    return text if text and not text.startswith("0x") else "0x" + target.hex()[:8] + "…"


class TargetType(click.ParamType):
    """A policy target: ``unlock``, ``password-reset``, an AD group DN (hashed) or 0x + 64 hex digits."""

    name = "TARGET"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes):
            return value
        from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET

        text = str(value)
        if ctx is not None:  # the name as typed, for messages about this target (group_name)
            ctx.meta[TARGET_TEXT] = text
        if text == "unlock":
            return UNLOCK_TARGET
        if text == "password-reset":
            return PASSWORD_RESET_TARGET
        if text.startswith("0x"):
            return BYTES32.convert(text, param, ctx)
        if "=" in text:
            ctx = click.get_current_context(silent=True)
            key_file = ctx.ensure_object(Session).pseudonym_key_file if ctx is not None else None
            if key_file is None and os.environ.get(PSEUDONYM_KEY_ENV):
                key_file = _path(os.environ[PSEUDONYM_KEY_ENV])
            if key_file is None:
                self.fail(
                    f"{value!r}: a group's on-chain id is keyed (HMAC of its DN under the deployment's pseudonym "
                    f"key): pass --pseudonym-key-file (or {PSEUDONYM_KEY_ENV}), or give the group's 0x id",
                    param,
                    ctx,
                )
            try:
                return group_target(text, key_file)
            except (OSError, ValueError) as exc:
                self.fail(f"cannot read the pseudonym key: {exc}", param, ctx)
        self.fail(
            f"{value!r}: use unlock, password-reset, a group DN (CN=...,DC=...) or 0x + 64 hex digits",
            param,
            ctx,
        )


class AddressType(click.ParamType):
    name = "ADDRESS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from pamchain.sdk.chain.abi import is_address, to_checksum_address

        if not is_address(str(value)):
            self.fail(f"{value!r} is not an Ethereum address", param, ctx)
        return to_checksum_address(str(value))


BYTES32 = Bytes32Type()
DOMAIN = DomainType()
TARGET = TargetType()
ADDRESS = AddressType()


def group_target(dn: str, key_file: Path) -> bytes:
    """The on-chain id of an AD group: its keyed pseudonym (what the oracle's ``[groups]`` table maps back)."""
    from pamchain.sdk.directory import group_target_id, read_pseudonym_key

    return group_target_id(read_pseudonym_key(key_file), dn)


# -- output ------------------------------------------------------------------------------------------------


def hexify(value: Any) -> Any:
    """Plain JSON for records: bytes as 0x-hex, enums by name, nested containers converted."""
    import enum

    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): hexify(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [hexify(v) for v in value]
    return value


def emit(data: Any, lines: Iterable[str] | Callable[[], Iterable[str]]) -> None:
    """Print ``data`` as JSON under ``--json``, else the human ``lines``."""
    if session().as_json:
        click.echo(json.dumps(hexify(data), indent=2))
        return
    for line in lines() if callable(lines) else lines:
        click.echo(line)


def is_tty(stream: Any = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


@contextlib.contextmanager
def progress(items: Iterable[Any], length: int, label: str) -> Iterator[Iterable[Any]]:
    """A progress bar on stderr when it is a terminal; the bare iterable otherwise (pipes, CI, tests)."""
    if not is_tty() or length < 50:
        yield items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield bar


def style(text: str, **styles: Any) -> str:
    """Colour only on a terminal (click strips it from pipes too; this keeps --json and files clean)."""
    return click.style(text, **styles) if is_tty(sys.stdout) else text


def report_tx(result: Any, summary: str, **extra: Any) -> None:
    """Print a mined transaction; a governed change that became a council proposal says so, with its id."""
    from pamchain.sdk.chain.events import GenericEvent

    proposal_id = None
    executed = False
    for event in result.events:
        if isinstance(event, GenericEvent) and event.event == "ProposalCreated":
            proposal_id = int(event.args["proposal_id"])
        if isinstance(event, GenericEvent) and event.event == "ProposalExecuted":
            executed = True
    data = {"tx_hash": result.tx_hash, "block": result.block_number, **extra}
    lines = [f"{summary} (block {result.block_number}, tx {result.tx_hash})"]
    if proposal_id is not None:
        data["proposal_id"] = proposal_id
        lines = [
            f"proposed as council proposal #{proposal_id} (block {result.block_number}, tx {result.tx_hash})",
            f"  it runs once the council's quorum approves: pamchain council approve {proposal_id}",
        ]
    if executed:
        data["executed"] = True
    emit(data, lines)
