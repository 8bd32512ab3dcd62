"""``pamchain principal``: enrol devices against pseudonymous directory ids, suspend, reinstate, rotate keys,
register passkeys."""

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


@principal.command("lost-device")
@click.argument("code")
@signer_options
def lost_device(code: str) -> None:
    """Suspend the principal whose phone showed CODE ("If I lose this phone"): its current device signed it for
    this deployment. Any single council member may; every grant ends at once."""
    from pamchain.sdk.chain.lost_device import principal_of_code

    client = session().client()
    found = principal_of_code(client, code)
    report_tx(
        client.suspend(found.directory_id),
        f"suspended 0x{found.directory_id.hex()} (lost device {found.device})",
        directory_id="0x" + found.directory_id.hex(),
        device=found.device,
    )


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


@principal.command(name="register-passkey")
@click.argument("registration", type=click.File("r", encoding="utf-8"))
@signer_options
def register_passkey(registration: Any) -> None:
    """Register the passkey in REGISTRATION (the file the phone app exports; `-` for stdin) as its principal's
    second factor in PamFactors (governed: direct while bootstrapping, else a council proposal).

    Checked first: same chain and deployment, signed by the principal's current device key, the relying party
    PamFactors checks assertions for, a P-256 public key.
    """
    from pamchain.sdk.chain.passkeys import check_registration, parse_registration

    client = session().client()
    found = parse_registration(registration.read())
    check_registration(found, client)
    result = client.set_authenticator(found.directory_id, found.x, found.y)
    report_tx(
        result,
        f"passkey {found.credential_id[:12]}... registered for 0x{found.directory_id.hex()} (or proposed)",
        directory_id=found.directory_id,
        credential_id=found.credential_id,
        x=found.x,
        y=found.y,
    )


@principal.command(name="remove-passkey")
@click.argument("directory_id", type=BYTES32)
@signer_options
def remove_passkey(directory_id: bytes) -> None:
    """Drop DIRECTORY_ID's passkey (lost or replaced phone; governed): the device key alone acts again."""
    client = session().client()
    _existing(client, directory_id)
    report_tx(
        client.remove_authenticator(directory_id), f"passkey of 0x{directory_id.hex()} removed (or proposed)"
    )


@principal.command()
@click.argument("who")
@reader_options
def show(who: str) -> None:
    """Show a principal by directory id (0x + 64 hex) or by device address."""
    from pamchain.sdk.chain.abi import is_address
    from pamchain.sdk.chain.deployment import FACTORS

    client = session().reader()
    directory_id = client.principal_of(who) if is_address(who) else BYTES32.convert(who, None, None)
    found = _existing(client, directory_id)
    grants = client.active_grants(directory_id)
    passkey = client.suite_address(FACTORS) is not None and client.has_factor(directory_id)
    data = {
        "directory_id": found.directory_id,
        "device": found.device,
        "domain": found.domain,
        "status": found.status,
        "active_grants": grants,
        "passkey": passkey,
    }
    emit(
        data,
        [
            f"directory id  0x{found.directory_id.hex()}",
            f"device        {found.device}",
            f"domain        {_domain(found.domain)}",
            f"status        {found.status.name}",
            f"active grants {', '.join(map(str, grants)) or 'none'}",
            f"passkey       {'registered' if passkey else 'none'}",
        ],
    )


def _existing(client: Any, directory_id: bytes) -> Any:
    from pamchain.sdk.chain.model import PrincipalStatus
    from pamchain.sdk.errors import SdkError

    found = client.principal(directory_id)
    if found.status is PrincipalStatus.NONE:
        raise SdkError(f"no principal enrolled as 0x{directory_id.hex()}")
    return found


def _domain(raw: bytes) -> str:
    text = raw.rstrip(b"\x00")
    return text.decode() if text and all(32 <= c < 127 for c in text) else "0x" + raw.hex()
