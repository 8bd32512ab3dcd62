"""``pamchain request`` (unlock, elevate, password, show, list, cancel) and the approver's approve/deny/revoke."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import (
    PAYLOAD_STORE_ENV,
    TARGET,
    emit,
    group_name,
    key_options,
    pseudonym_key_option,
    reader_options,
    report_tx,
    session,
    signer_options,
)

DEFAULT_PAYLOAD_STORE = "http://127.0.0.1:8547"
# `--wait` stops at the kind's success, or at any end that is not one (then the command exits non-zero).
_SUCCESS = {"unlock": ("FULFILLED",), "password": ("FULFILLED",), "elevate": ("ACTIVE", "ENDED")}
_UNSUCCESSFUL = ("FAILED", "DENIED", "EXPIRED", "CANCELLED")

payload_store_option = click.option(
    "--payload-store",
    envvar=PAYLOAD_STORE_ENV,
    default=DEFAULT_PAYLOAD_STORE,
    show_default=True,
    help=f"The payload store beside the node [env {PAYLOAD_STORE_ENV}].",
)

wait_option = click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Wait up to SECONDS for the outcome (approved and applied by the oracle, or refused).",
)


@click.group()
def request() -> None:
    """Ask for access: unlock your account, temporary elevation, or a password reset."""


def _requested(client: Any, request_id: int, what: str, wait_seconds: float | None) -> None:
    from pamchain.sdk.chain.model import Status

    found = client.request(request_id)
    data: dict[str, Any] = {
        "request_id": request_id,
        "status": found.status,
        "approvals_required": found.approvals_required,
    }
    lines = [
        f"request {request_id}: {what}, {found.status.name}, needs {found.approvals_required} approval(s)"
    ]
    if wait_seconds is not None and not found.status.is_final:
        wanted = [Status[name] for name in (*_SUCCESS[what], *_UNSUCCESSFUL)]
        status = client.wait_for_status(request_id, wanted, timeout=wait_seconds)
        data["status"] = status
        lines.append(f"request {request_id}: {status.name}")
    emit(data, lines)
    if wait_seconds is not None and data["status"].name not in _SUCCESS[what]:
        # A script waiting on the outcome must not mistake a refusal or a failed AD change for success.
        raise click.ClickException(
            f"request {request_id} ended {data['status'].name}: see `pamchain request show {request_id}` "
            "and `pamchain receipts`"
        )


@request.command()
@wait_option
@signer_options
def unlock(wait_seconds: float | None) -> None:
    """Ask for your locked-out AD account to be unlocked."""
    from pamchain.sdk.chain.model import UNLOCK_TARGET
    from pamchain.sdk.errors import ContractRevert

    client = session().client()
    try:
        request_id = client.request_unlock()
    except ContractRevert as exc:
        _with_policy(exc, client, UNLOCK_TARGET, False)
        raise
    _requested(client, request_id, "unlock", wait_seconds)


def _with_policy(exc: Any, client: Any, target: bytes, break_glass: bool) -> None:
    """Attach what ``target``'s policy on chain says (group, cap, cooldown) to a refusal, for its reason."""
    from pamchain.sdk.errors import SdkError
    from pamchain.sdk.reasons import language, policy_params

    try:
        policy = client.policy(target)
    except SdkError:  # no policy: the reason itself says so
        return
    exc.params = policy_params(policy, group_name(target), break_glass=break_glass, lang=language())


@request.command()
@pseudonym_key_option
@click.argument("target", type=TARGET)
@click.option("--duration", required=True, type=click.IntRange(1), help="Seconds of membership asked for.")
@click.option(
    "--justification",
    default="",
    help="Why: sealed to the policy's approvers in the payload store; only a salted hash goes on chain.",
)
@click.option("--ticket", default="", help="Ticket reference, up to 32 ASCII characters (e.g. CHG-1042).")
@click.option(
    "--break-glass", is_flag=True, help="Emergency access under the break-glass quorum; raises an alarm."
)
@payload_store_option
@wait_option
@signer_options
def elevate(
    target: bytes,
    duration: int,
    justification: str,
    ticket: str,
    break_glass: bool,
    payload_store: str,
    wait_seconds: float | None,
) -> None:
    """Ask for temporary membership of TARGET (an AD group DN, or its 0x id) for --duration seconds."""
    from pamchain.sdk.chain.model import ZERO32, ticket_ref

    try:
        ticket_raw = ticket_ref(ticket) if ticket else ZERO32
    except (ValueError, UnicodeEncodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--ticket") from None
    client = session().client()
    digest = None
    if justification:
        from pamchain.sdk.errors import SdkError
        from pamchain.sdk.payloads.sealed_justifications import seal_for_request
        from pamchain.sdk.payloads.store import PayloadClient

        try:
            digest, who = seal_for_request(client, PayloadClient(payload_store), target, justification)
        except ValueError as exc:
            if isinstance(exc, LookupError | SdkError):
                raise
            raise click.BadParameter(str(exc), param_hint="--justification") from None
        if who.missing:
            click.echo(
                f"warning: {len(who.missing)} approver(s) have published no encryption key and cannot read the "
                "justification: " + ", ".join("0x" + m.hex()[:12] + "…" for m in who.missing),
                err=True,
            )
    from pamchain.sdk.errors import ContractRevert

    try:
        request_id = client.request_elevation(
            target, duration, ticket=ticket_raw, break_glass=break_glass, justification_hash=digest
        )
    except ContractRevert as exc:
        _with_policy(exc, client, target, break_glass)
        raise
    _requested(client, request_id, "elevate", wait_seconds)


@request.command()
@click.option(
    "--new-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose first line is the new password (else a hidden prompt, asked twice).",
)
@click.option(
    "--account-name", default=None, help="Your AD account name, to refuse a password containing it."
)
@payload_store_option
@wait_option
@signer_options
def password(
    new_password_file: Path | None, account_name: str | None, payload_store: str, wait_seconds: float | None
) -> None:
    """Ask for a password reset: the new password is sealed to the oracle's key; only its hash goes on chain."""
    from pamchain.sdk.chain.model import ZERO32
    from pamchain.sdk.directory import AccountRef, PasswordRejected
    from pamchain.sdk.directory.password_policy import PasswordPolicy
    from pamchain.sdk.errors import SdkError
    from pamchain.sdk.payloads.sealed import seal_password
    from pamchain.sdk.payloads.store import PayloadClient

    if new_password_file is not None:
        lines = new_password_file.read_text(encoding="utf-8").splitlines()
        secret = lines[0] if lines else ""
    else:
        secret = click.prompt("New AD password", hide_input=True, confirmation_prompt=True, err=True)
    try:
        PasswordPolicy().check(AccountRef(account_name or "-"), secret)
    except PasswordRejected as exc:
        raise click.UsageError(f"the new password is refused: {'; '.join(exc.reasons)}") from None
    client = session().client()
    me = client.account.address
    subject = client.principal_of(me)
    if subject == ZERO32:
        raise SdkError(f"{me} is not enrolled: ask the council to enrol this device")
    domain = client.principal(subject).domain
    oracle_key = client.oracle_key(domain)
    if oracle_key == ZERO32:
        raise SdkError("no oracle is registered for your domain")
    digest = PayloadClient(payload_store).put(client.account, seal_password(oracle_key, subject, secret))
    _requested(client, client.request_password_reset(digest), "password", wait_seconds)


@request.command()
@click.argument("request_id", type=int)
@signer_options
def cancel(request_id: int) -> None:
    """Withdraw your own pending request."""
    client = session().client()
    client.request(request_id)
    report_tx(client.cancel(request_id), f"cancelled request {request_id}")


def request_view(found: Any) -> dict[str, Any]:
    from pamchain.sdk.chain.model import ticket_text

    return {
        "id": found.id,
        "kind": found.kind,
        "status": found.status,
        "requester": found.requester,
        "subject": found.subject,
        "target": found.target,
        "domain": found.domain,
        "duration": found.duration,
        "created": found.created,
        "deadline": found.deadline,
        "approvals": found.approvals,
        "approvals_required": found.approvals_required,
        "break_glass": found.break_glass,
        "ticket": ticket_text(found.ticket_ref),
        "justification_hash": found.justification_hash,
        "start": found.start,
        "expiry": found.expiry,
    }


@request.command()
@click.argument("request_id", type=int)
@payload_store_option
@reader_options
@key_options
def show(request_id: int, payload_store: str) -> None:
    """Show one request: kind, status, approvals, grant window; with --keystore, its justification too, opened
    with your device key if you are its requester or one of its approvers."""
    from pamchain.sdk.chain.model import ZERO32

    current = session()
    found = current.reader().request(request_id)
    view = request_view(found)
    if found.justification_hash != ZERO32 and current.keystore is not None:
        from pamchain.sdk.errors import SdkError
        from pamchain.sdk.payloads.sealed_justifications import read_justification
        from pamchain.sdk.payloads.store import PayloadClient

        try:
            view["justification"] = read_justification(
                current.signer(), PayloadClient(payload_store), found
            ).text
        except SdkError as exc:  # not an approver, purged, not sealed to this device: say why, show the rest
            view["justification"] = None
            view["justification_error"] = str(exc)
    emit(view, lambda: [f"{k:<19} {_text(v)}" for k, v in view.items()])


@request.command(name="list")
@click.option("--pending", is_flag=True, help="Only requests waiting for approvals.")
@reader_options
def list_(pending: bool) -> None:
    """List every request with its current status."""
    from pamchain.sdk.chain.audit import iter_events, request_ids
    from pamchain.sdk.chain.model import Status

    current = session()
    client = current.reader()
    ids = request_ids(iter_events(client, current.deployment().block))
    rows = [request_view(client.request(i)) for i in ids]
    if pending:
        rows = [r for r in rows if r["status"] is Status.PENDING]
    emit(
        rows,
        [
            f"{r['id']:>5}  {r['kind'].name:<14} {r['status'].name:<10} {r['approvals']}/{r['approvals_required']}  "
            f"subject 0x{r['subject'].hex()[:12]}…  {r['ticket']}"
            for r in rows
        ]
        or ["no requests"],
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(getattr(value, "name", value))


# -- decisions ------------------------------------------------------------------------------------------------


@click.command()
@click.argument("request_id", type=int)
@signer_options
def approve(request_id: int) -> None:
    """Approve REQUEST_ID as one of its policy's approvers (never your own)."""
    client = session().client()
    client.request(request_id)  # an unknown id is a clear error, not a revert
    result = client.approve(request_id)
    status = client.status(request_id)
    report_tx(result, f"approved request {request_id}; now {status.name}", status=status.name)


@click.command()
@click.argument("request_id", type=int)
@click.option("--reason", default="", help="Why (only its hash goes on chain).")
@signer_options
def deny(request_id: int, reason: str) -> None:
    """Deny REQUEST_ID."""
    client = session().client()
    client.request(request_id)
    report_tx(client.deny(request_id, reason), f"denied request {request_id}")


@click.command()
@click.argument("request_id", type=int)
@signer_options
def revoke(request_id: int) -> None:
    """End REQUEST_ID's grant now (requester, approver or council member); the oracle removes the membership."""
    client = session().client()
    client.request(request_id)
    report_tx(client.revoke(request_id), f"revoked the grant of request {request_id}")
