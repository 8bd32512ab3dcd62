"""``pamchain principal``: enrol devices against pseudonymous directory ids, suspend, reinstate, rotate keys."""

from __future__ import annotations

from typing import Any

import click

from .options import ADDRESS, BYTES32, DOMAIN, emit, reader_options, report_tx, session, signer_options


@click.group()
def principal() -> None:
    """Principals: a device key acting for a pseudonymous directory id."""


@principal.command()
@click.argument("device", type=ADDRESS)
@click.argument("directory_id", type=BYTES32)
@click.option("--domain", required=True, type=DOMAIN, help="Domain id (e.g. corp.example).")
@signer_options
def enrol(device: str, directory_id: bytes, domain: bytes) -> None:
    """Enrol DEVICE for DIRECTORY_ID (governed: a council proposal once bootstrap is over)."""
    report_tx(session().client().enrol(device, directory_id, domain), f"enrolled {device}")


@principal.command()
@click.argument("directory_id", type=BYTES32)
@signer_options
def suspend(directory_id: bytes) -> None:
    """Suspend DIRECTORY_ID at once and end all its grants (any single council member may)."""
    client = session().client()
    _existing(client, directory_id)
    report_tx(client.suspend(directory_id), f"suspended 0x{directory_id.hex()}")


@principal.command()
@click.argument("directory_id", type=BYTES32)
@signer_options
def reinstate(directory_id: bytes) -> None:
    """Lift a suspension (governed); ended grants stay ended."""
    client = session().client()
    _existing(client, directory_id)
    report_tx(client.governed("reinstate", directory_id), f"reinstated 0x{directory_id.hex()}")


@principal.command(name="rotate-key")
@click.argument("directory_id", type=BYTES32)
@click.argument("new_device", type=ADDRESS)
@signer_options
def rotate_key(directory_id: bytes, new_device: str) -> None:
    """Replace DIRECTORY_ID's device key with NEW_DEVICE (governed); the old key can do nothing afterwards."""
    client = session().client()
    _existing(client, directory_id)
    report_tx(client.governed("rotate_device", directory_id, new_device), f"rotated to {new_device}")


@principal.command()
@click.argument("who")
@reader_options
def show(who: str) -> None:
    """Show a principal by directory id (0x + 64 hex) or by device address."""
    from eth_utils import is_address

    client = session().client(signed=False)
    directory_id = client.principal_of(who) if is_address(who) else BYTES32.convert(who, None, None)
    found = _existing(client, directory_id)
    grants = client.active_grants(directory_id)
    data = {
        "directory_id": found.directory_id,
        "device": found.device,
        "domain": found.domain,
        "status": found.status,
        "active_grants": grants,
    }
    emit(
        data,
        [
            f"directory id  0x{found.directory_id.hex()}",
            f"device        {found.device}",
            f"domain        {_domain(found.domain)}",
            f"status        {found.status.name}",
            f"active grants {', '.join(map(str, grants)) or 'none'}",
        ],
    )


def _existing(client: Any, directory_id: bytes) -> Any:
    from pamchain.sdk.errors import SdkError
    from pamchain.sdk.model import PrincipalStatus

    found = client.principal(directory_id)
    if found.status is PrincipalStatus.NONE:
        raise SdkError(f"no principal enrolled as 0x{directory_id.hex()}")
    return found


def _domain(raw: bytes) -> str:
    text = raw.rstrip(b"\x00")
    return text.decode() if text and all(32 <= c < 127 for c in text) else "0x" + raw.hex()
