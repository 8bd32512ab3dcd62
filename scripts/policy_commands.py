"""``pamchain policy``: the rules of a target (unlock, password reset, an AD group) — set and show — and of a
domain's leavers."""

from __future__ import annotations

import dataclasses

import click
from pamchain.sdk.chain.model import UNLOCK_TARGET

from .options import (
    BYTES32,
    DOMAIN,
    TARGET,
    emit,
    pseudonym_key_option,
    reader_options,
    repeatable,
    report_tx,
    session,
    signer_options,
)


@click.group()
def policy() -> None:
    """Per-target policies: requesters, approvers, quorum, durations, self-service, break-glass, unlock limit."""


@policy.command(name="set")
@pseudonym_key_option
@click.argument("target", type=TARGET)
@click.option("--domain", required=True, type=DOMAIN, help="Domain id (e.g. corp.example).")
@repeatable("--approver", "approvers", BYTES32, "Approver directory id (repeatable).")
@repeatable(
    "--requester",
    "requesters",
    BYTES32,
    "Directory id that may request this group (repeatable; none: nobody may).",
)
@click.option(
    "--approvals",
    "approvals_required",
    default=1,
    show_default=True,
    type=click.IntRange(0),
    help="Approvals needed.",
)
@click.option(
    "--max-duration", default=0, show_default=True, type=click.IntRange(0), help="Longest grant, seconds."
)
@click.option(
    "--max-pending",
    default=3600,
    show_default=True,
    type=click.IntRange(1),
    help="How long a request may wait, seconds.",
)
@click.option("--self-service", is_flag=True, help="No approval needed (e.g. unlocking your own account).")
@click.option("--disabled", is_flag=True, help="Refuse new requests for this target.")
@click.option("--break-glass-approvals", default=0, show_default=True, type=click.IntRange(0))
@click.option(
    "--break-glass-max-duration",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="0: no break-glass.",
)
@click.option(
    "--break-glass-cooldown",
    default=4 * 3600,
    show_default=True,
    type=click.IntRange(0),
    help="Seconds after a person's break-glass grant expires before the next one.",
)
@click.option(
    "--unlock-limit",
    default=3,
    show_default=True,
    type=click.IntRange(0),
    help="Unlock requests per person per window (unlock target only).",
)
@click.option(
    "--unlock-window",
    default=24 * 3600,
    show_default=True,
    type=click.IntRange(0),
    help="The unlock rate-limit window, seconds (unlock target only).",
)
@signer_options
def set_(
    target: bytes,
    domain: bytes,
    approvers: tuple[bytes, ...],
    approvals_required: int,
    max_duration: int,
    max_pending: int,
    self_service: bool,
    disabled: bool,
    break_glass_approvals: int,
    break_glass_max_duration: int,
    requesters: tuple[bytes, ...],
    break_glass_cooldown: int,
    unlock_limit: int,
    unlock_window: int,
) -> None:
    """Set TARGET's policy (governed). TARGET: unlock, password-reset, a group DN, or 0x + 64 hex digits."""
    if self_service:
        approvals_required = 0
    if target != UNLOCK_TARGET:
        unlock_limit = unlock_window = 0
    result = (
        session()
        .client()
        .set_policy(
            target,
            domain,
            approvers=approvers,
            approvals_required=approvals_required,
            max_duration=max_duration,
            max_pending=max_pending,
            self_service=self_service,
            enabled=not disabled,
            break_glass_approvals=break_glass_approvals,
            break_glass_max_duration=break_glass_max_duration,
            requesters=requesters,
            break_glass_cooldown=break_glass_cooldown,
            unlock_limit=unlock_limit,
            unlock_window=unlock_window,
        )
    )
    report_tx(result, f"policy set for 0x{target.hex()}")


@policy.command()
@pseudonym_key_option
@click.argument("target", type=TARGET)
@reader_options
def show(target: bytes) -> None:
    """Show TARGET's policy and approvers."""
    client = session().reader()
    policy_ = client.policy(target)
    data: dict[str, object] = dataclasses.asdict(policy_)
    data["approvers"] = list(policy_.approvers)
    data["requesters"] = list(policy_.requesters)
    data["requirements"] = _requirements_text(client.requirements(target))
    emit(data, lambda: [f"{k:<25} {_text(k, v)}" for k, v in data.items()])


@policy.command()
@click.option("--domain", required=True, type=DOMAIN, help="Domain id (e.g. corp.example).")
@click.option(
    "--auto-suspend/--report-only",
    "auto_suspend",
    default=None,
    help="Set the rule (governed): a leaver report suspends the principal and ends every grant, or only alarms. "
    "Neither: show the rule.",
)
@signer_options
def leavers(domain: bytes, auto_suspend: bool | None) -> None:
    """The domain's leaver rule, decided in advance: what the oracle's report of a disabled, deleted or moved
    AD account does on chain."""
    from .principal_commands import _domain

    if auto_suspend is None:
        current = session().reader().leaver_auto_suspend(domain)
        rule = "auto-suspend" if current else "report-only"
        emit({"domain": domain, "auto_suspend": current}, [f"leaver rule for {_domain(domain)}: {rule}"])
        return
    result = session().client().set_leaver_rule(domain, auto_suspend)
    rule = "auto-suspend" if auto_suspend else "report-only"
    report_tx(result, f"leaver rule for {_domain(domain)} set to {rule}")


def _text(key: str, value: object) -> str:
    from .principal_commands import _domain

    if key == "domain" and isinstance(value, bytes):
        return _domain(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return ", ".join("0x" + a.hex() for a in value) or "none"
    return str(value)


@policy.command()
@pseudonym_key_option
@click.argument("target", type=TARGET)
@click.option("--justification/--no-justification", default=False, help="Every elevation must carry one.")
@click.option("--ticket/--no-ticket", default=False, help="Every elevation must carry a ticket reference.")
@signer_options
def require(target: bytes, justification: bool, ticket: bool) -> None:
    """Set what every elevation request of the group TARGET must carry (governed; kept across `policy set`)."""
    from pamchain.sdk.chain.model import REQUIRE_JUSTIFICATION, REQUIRE_TICKET

    bits = (REQUIRE_JUSTIFICATION if justification else 0) | (REQUIRE_TICKET if ticket else 0)
    result = session().client().set_requirements(target, bits)
    report_tx(result, f"requirements of 0x{target.hex()}: {_requirements_text(bits)}")


@policy.command(name="target-id")
@pseudonym_key_option
@click.argument("target", type=TARGET)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def target_id(target: bytes, as_json: bool) -> None:
    """Print the on-chain id of TARGET (a group DN needs --pseudonym-key-file): for the oracle's [groups]
    table, the deployment file and requesters without the key."""
    session().as_json = as_json
    emit({"target": target}, [f"0x{target.hex()}"])


def _requirements_text(bits: int) -> str:
    from pamchain.sdk.chain.model import REQUIRE_JUSTIFICATION, REQUIRE_TICKET

    names = [n for b, n in ((REQUIRE_JUSTIFICATION, "justification"), (REQUIRE_TICKET, "ticket")) if bits & b]
    return ", ".join(names) or "none"
