"""``pamchain keys``: create, import and list device keys as standard encrypted keystore files."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .options import account_option, emit, json_option, keystore_option, password_file_option, session


def _new_passphrase(from_env: bool) -> str:
    """A new passphrase: from ``--password-file``, from ``PAMCHAIN_PASSWORD`` only when asked with
    ``--password-from-env``, else prompted twice, hidden; refused if a guessing attack would find it."""
    from pamchain.sdk.keys import PASSPHRASE_ENV, WeakPassphrase, check_new_passphrase, read_passphrase

    password_file = session().password_file
    if password_file is not None:
        secret: str | None = read_passphrase(file=password_file)
    elif from_env:
        secret = os.environ.get(PASSPHRASE_ENV)
        if not secret:
            raise click.UsageError(f"--password-from-env given but {PASSPHRASE_ENV} is not set")
    else:
        if os.environ.get(PASSPHRASE_ENV):
            raise click.UsageError(
                f"{PASSPHRASE_ENV} is set, but a new key's passphrase is not taken from the environment unless "
                "you pass --password-from-env (other processes of your user can read it); or use --password-file"
            )
        secret = click.prompt("New keystore passphrase", hide_input=True, confirmation_prompt=True, err=True)
    if not secret:
        raise click.UsageError("the passphrase may not be empty")
    try:
        check_new_passphrase(secret)
    except WeakPassphrase as exc:
        raise click.UsageError(str(exc)) from None
    return secret


password_from_env_option = click.option(
    "--password-from-env",
    is_flag=True,
    help="Take the new key's passphrase from PAMCHAIN_PASSWORD (unattended setups; else --password-file or a prompt).",
)


@click.group()
def keys() -> None:
    """Device and service keys (Web3 Secret Storage keystore files, scrypt)."""


@keys.command()
@keystore_option
@password_file_option
@password_from_env_option
@json_option
def new(password_from_env: bool, **_: object) -> None:
    """Create a new key in the keystore folder."""
    from pamchain.sdk.keys import create_keystore

    folder = session().keystore_dir()
    if folder.is_file():
        raise click.UsageError(f"--keystore must be a folder for `keys new`: {folder} is a file")
    path, account = create_keystore(folder, _new_passphrase(password_from_env))
    emit(
        {"address": account.address, "path": str(path)}, [f"created {account.address}", f"  keystore {path}"]
    )


@keys.command(name="import")
@click.option(
    "--private-key-file",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File holding the hex private key (else a hidden prompt). Never pass a key on the command line.",
)
@keystore_option
@password_file_option
@password_from_env_option
@json_option
def import_(private_key_file: Path | None, password_from_env: bool, **_: object) -> None:
    """Import an existing private key into the keystore folder, encrypted."""
    from pamchain.sdk.keys import create_keystore

    if private_key_file is not None:
        text = private_key_file.read_text(encoding="utf-8").strip()
    else:
        text = click.prompt("Private key (hex)", hide_input=True, err=True).strip()
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise click.UsageError("a private key is 32 bytes of hex")
    folder = session().keystore_dir()
    try:
        path, account = create_keystore(folder, _new_passphrase(password_from_env), private_key=raw)
    except FileExistsError:
        raise click.ClickException(f"that key is already in {folder}") from None
    emit(
        {"address": account.address, "path": str(path)}, [f"imported {account.address}", f"  keystore {path}"]
    )


@keys.command(name="list")
@keystore_option
@json_option
def list_(**_: object) -> None:
    """List the keys of the keystore folder (addresses only; nothing is decrypted)."""
    from pamchain.sdk.keys import keystore_address

    from .options import list_keystores

    folder = session().keystore_dir()
    files = [folder] if folder.is_file() else list_keystores(folder)
    rows = [{"address": keystore_address(f), "path": str(f)} for f in files]
    emit(rows, [f"{r['address']}  {r['path']}" for r in rows] or [f"no keys in {folder}"])


@keys.command()
@click.option(
    "--payload-store",
    envvar="PAMCHAIN_PAYLOAD_STORE",
    default="http://127.0.0.1:8547",
    show_default=True,
    help="The payload store beside the node [env PAMCHAIN_PAYLOAD_STORE].",
)
@keystore_option
@account_option
@password_file_option
@json_option
def publish(payload_store: str) -> None:
    """Publish this device's encryption key (derived from it, signed by it) in the payload store, so that
    requesters can seal their justifications to you as an approver. Safe to run again."""
    from pamchain.sdk.payloads.store import PayloadClient

    account = session().signer()
    public = PayloadClient(payload_store).publish_key(account)
    emit(
        {"device": account.address, "public_key": public},
        [f"published the encryption key of {account.address}: 0x{public.hex()}"],
    )
