"""``pamchain oracle``: run the oracle daemon on a domain controller, and ask a running one how it is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .health_status import show_health
from .options import log_level_option

F = TypeVar("F", bound=Callable[..., Any])


def _config_option(text: str) -> Callable[[F], F]:
    """``--config``: the oracle's TOML file, as every oracle command takes it."""
    return click.option(
        "--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help=text
    )


@click.group()
def oracle() -> None:
    """The oracle daemon that makes Active Directory follow the chain."""


@oracle.command()
@_config_option("Oracle TOML file.")
@log_level_option
@click.option(
    "--demo",
    is_flag=True,
    help='Allow [directory] kind = "memory" (nothing reaches AD; for demonstrations only).',
)
def run(config_path: Path, log_level: str, demo: bool) -> None:
    """Follow the chain and apply final decisions to AD until SIGINT/SIGTERM (a second signal exits at once)."""
    from pamchain.sdk.keys import read_passphrase
    from pamchain.sdk.oracle import logs
    from pamchain.sdk.oracle.assembly import from_config
    from pamchain.sdk.oracle.config import OracleConfig

    logs.configure(log_level)
    config = OracleConfig.load(config_path)
    passphrase = read_passphrase(file=config.password_file)
    if passphrase is None:
        passphrase = click.prompt("Oracle keystore passphrase", hide_input=True, err=True)
    daemon = from_config(config, config_dir=config_path.parent, passphrase=passphrase, demo=demo)
    daemon.run(health_host=config.health_host, health_port=config.health_port)


@oracle.command()
@click.option(
    "--url", default="http://127.0.0.1:9464", show_default=True, help="The daemon's health endpoint."
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
def status(url: str, as_json: bool) -> None:
    """Show a running oracle's health: checkpoint, final head, queued actions."""
    show_health(url, as_json=as_json, daemon="oracle")


@oracle.command(name="domain-key")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def domain_key(path: Path) -> None:
    """Create PATH holding a new random X25519 secret for a domain with several oracles (mode 0600; never
    overwrites), and print its public key: the `enc_pubkey` every oracle of the domain is registered with.
    Copy the file to each oracle's host and name it in `[oracle] encryption_key_file`."""
    from pamchain.sdk.payloads.sealed import create_domain_secret, public_key

    secret = create_domain_secret(path)
    click.echo("0x" + public_key(secret).hex())


@oracle.command(name="directory-id")
@_config_option("Oracle TOML file (its [directory] and pseudonym_key_file).")
@click.argument("names", nargs=-1, required=True)
def directory_id(config_path: Path, names: tuple[str, ...]) -> None:
    """Print the on-chain directory id of each AD account NAMES lists (sAMAccountName), as this oracle keys it:
    what `pamchain principal enrol DEVICE ID DOMAIN` takes. Reads AD over the oracle's LDAPS connection."""
    from pamchain.sdk.oracle.assembly import directory_ids
    from pamchain.sdk.oracle.config import OracleConfig

    ids = directory_ids(OracleConfig.load(config_path), config_path.parent, names)
    for name in names:
        click.echo(f"{name} 0x{ids[name].hex()}")


@oracle.command()
@_config_option("Oracle TOML file (its journal is edited; stop the oracle first).")
@click.argument("directory_id")
def forget(config_path: Path, directory_id: str) -> None:
    """Right to erasure (docs/privacy.md): drop every link this oracle's journal keeps from the pseudonymous
    DIRECTORY_ID to an AD account. Remove the id from the [accounts] table yourself; nothing changes on chain."""
    from pamchain.sdk.chain.model import to_bytes32
    from pamchain.sdk.oracle.config import OracleConfig
    from pamchain.sdk.oracle.journal import Journal

    try:
        subject = to_bytes32(directory_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DIRECTORY_ID") from None
    config = OracleConfig.load(config_path)
    journal = Journal(config.journal)
    try:
        changed = journal.forget(subject)
    finally:
        journal.close()
    click.echo(f"forgot 0x{subject.hex()} in {config.journal}: {changed} row(s) changed")
    if directory_id.lower() in {k.lower() for k in config.accounts}:
        click.echo(f"still in {config_path} [accounts]: delete that line too", err=True)
