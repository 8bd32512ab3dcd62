"""``pamchain review``: access-review campaigns — the council opens one, reviewers re-confirm, anyone closes."""

from __future__ import annotations

import datetime
import re
from typing import Any

import click

from .options import BYTES32, TARGET, choice_option, emit, repeatable, report_tx, session, signer_options

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@click.group()
def review() -> None:
    """Access reviews: the council opens a campaign, reviewers re-confirm, the rest is suspended or flagged."""


def _deadline(deadline: str | None, duration: str | None, now: int) -> int:
    """A unix time from ``--deadline`` (ISO 8601, UTC if no zone, or unix seconds) or ``--duration``."""
    if (deadline is None) == (duration is None):
        raise click.UsageError("give exactly one of --deadline and --duration")
    if duration is not None:
        match = re.fullmatch(r"(\d+)([smhd]?)", duration.strip())
        if match is None:
            raise click.BadParameter(
                f"{duration!r}: seconds, or a number with s, m, h or d", param_hint="--duration"
            )
        return now + int(match.group(1)) * _UNITS[match.group(2) or "s"]
    assert deadline is not None
    if deadline.isdigit():
        return int(deadline)
    try:
        when = datetime.datetime.fromisoformat(deadline)
    except ValueError as exc:
        raise click.BadParameter(f"{deadline!r}: ISO 8601 or unix seconds", param_hint="--deadline") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp())


def _when(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _target(raw: bytes) -> str:
    from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET

    if not any(raw):
        return "-"
    return {UNLOCK_TARGET: "unlock", PASSWORD_RESET_TARGET: "password-reset"}.get(raw, "0x" + raw.hex())


@review.command(name="open")
@repeatable("--principal", "principals", BYTES32, "Review this principal (repeatable).")
@repeatable(
    "--requesters-of",
    "requesters_of",
    TARGET,
    "Review every eligible requester of this policy's target (repeatable, at most 8).",
)
@repeatable(
    "--approvers-of",
    "approvers_of",
    TARGET,
    "Review every approver of this policy's target (repeatable, at most 8).",
)
@choice_option(
    "--reviewer",
    ("self", "approvers"),
    "self",
    "Who re-confirms: the principal itself, or the policy's other approvers (policy scopes only).",
)
@choice_option(
    "--on-lapse",
    ("suspend", "flag"),
    "suspend",
    "What happens to an item nobody re-confirmed: suspend the principal, or raise an alarm.",
)
@click.option(
    "--deadline", help="When confirming ends: ISO 8601 (UTC unless a zone is given) or unix seconds."
)
@click.option("--duration", help="Or: how long from now, e.g. 14d, 36h, 3600.")
@click.option(
    "--label", default="", help="A short public name, at most 32 ASCII characters (no personal data)."
)
@signer_options
def open_(
    principals: tuple[bytes, ...],
    requesters_of: tuple[bytes, ...],
    approvers_of: tuple[bytes, ...],
    reviewer: str,
    on_lapse: str,
    deadline: str | None,
    duration: str | None,
    label: str,
) -> None:
    """Open a campaign (governed: a council proposal once bootstrap is over). Give one scope: --principal,
    --requesters-of or --approvers-of."""
    from pamchain.sdk.chain.model import LapseAction, Reviewer, ReviewScope, ticket_ref

    scopes = [
        (ReviewScope.PRINCIPALS, principals),
        (ReviewScope.REQUESTERS, requesters_of),
        (ReviewScope.APPROVERS, approvers_of),
    ]
    chosen = [(scope, subjects) for scope, subjects in scopes if subjects]
    if len(chosen) != 1:
        raise click.UsageError("give one scope: --principal, --requesters-of or --approvers-of (repeatable)")
    scope, subjects = chosen[0]
    try:
        label_bytes = ticket_ref(label)
    except (ValueError, UnicodeEncodeError) as exc:
        raise click.BadParameter("at most 32 ASCII characters", param_hint="--label") from exc
    client = session().client()
    if scope is not ReviewScope.PRINCIPALS:
        for target in subjects:
            client.policy(target)  # a mistyped target is a clear error here, not a failed proposal later
    now = client.block_timestamp()
    due = _deadline(deadline, duration, now)
    result = client.open_campaign(
        scope,
        subjects,
        Reviewer.SELF if reviewer == "self" else Reviewer.APPROVERS,
        LapseAction.SUSPEND if on_lapse == "suspend" else LapseAction.FLAG,
        due,
        label_bytes,
    )
    from pamchain.sdk.chain.events import CampaignOpened

    opened = [e for e in result.events if isinstance(e, CampaignOpened)]
    if opened:
        report_tx(
            result,
            f"campaign {opened[0].campaign_id} opened: {opened[0].item_count} item(s), deadline {_when(due)}",
            campaign_id=opened[0].campaign_id,
            items=opened[0].item_count,
            deadline=due,
        )
    else:
        report_tx(result, "campaign proposed", deadline=due)


@review.command(name="list")
@click.argument("campaign_id", type=click.IntRange(1), required=False)
@click.option("--mine", is_flag=True, help="Only the pending items this key's principal may confirm now.")
@signer_options
def list_(campaign_id: int | None, mine: bool) -> None:
    """List campaigns, or CAMPAIGN_ID's items; with --mine, what waits for you (reads the keystore's address,
    no passphrase)."""
    client = session().reader()
    if mine:
        _mine(client, campaign_id)
    elif campaign_id is None:
        _campaigns(client)
    else:
        _items(client, campaign_id)


def _campaigns(client: Any) -> None:
    now = client.block_timestamp()
    campaigns = [client.campaign(i) for i in range(1, client.campaign_count() + 1)]
    data = [_campaign_data(c, now) for c in campaigns]
    emit(
        data,
        lambda: (
            [
                f"{d['id']:>4}  {d['state']:<6}  {d['label'] or '-':<20} {d['scope']:<10} reviewer {d['reviewer']:<9} "
                f"on lapse {d['on_lapse']:<7} deadline {_when(d['deadline'])}  "
                f"{d['confirmed']}/{d['items']} confirmed, {d['lapsed']} lapsed"
                for d in data
            ]
            or ["no campaigns"]
        ),
    )


def _campaign_data(campaign: Any, now: int) -> dict[str, Any]:
    from pamchain.sdk.chain.model import ticket_text

    return {
        "id": campaign.id,
        "state": campaign.state(now),
        "label": ticket_text(campaign.label),
        "scope": campaign.scope.name,
        "reviewer": campaign.reviewer.name,
        "on_lapse": campaign.on_lapse.name,
        "deadline": campaign.deadline,
        "items": campaign.item_count,
        "confirmed": campaign.confirmed,
        "lapsed": campaign.lapsed,
    }


def _item_data(item: Any) -> dict[str, Any]:
    return {
        "campaign_id": item.campaign_id,
        "item_id": item.id,
        "principal": item.principal,
        "target": item.target,
        "status": item.status.name,
        "confirmed_by": item.by if any(item.by) else None,
        "at": item.at or None,
    }


def _item_line(d: dict[str, Any]) -> str:
    by = f" by 0x{d['confirmed_by'].hex()}" if d["confirmed_by"] else ""
    return f"{d['campaign_id']:>4}/{d['item_id']:<4} {d['status']:<9} 0x{d['principal'].hex()}  {_target(d['target'])}{by}"


def _items(client: Any, campaign_id: int) -> None:
    now = client.block_timestamp()
    campaign = _campaign_data(client.campaign(campaign_id), now)
    items = [_item_data(i) for i in client.review_items(campaign_id)]
    emit(
        {**campaign, "items": items},
        lambda: [
            f"campaign {campaign['id']} ({campaign['state']}) {campaign['label']}: {campaign['scope']}, "
            f"reviewer {campaign['reviewer']}, on lapse {campaign['on_lapse']}, deadline {_when(campaign['deadline'])}",
            *[_item_line(d) for d in items],
        ],
    )


def _mine(client: Any, campaign_id: int | None) -> None:
    from pamchain.sdk.errors import SdkError
    from pamchain.sdk.keys import keystore_address

    address = keystore_address(session().keystore_file())
    me = client.principal_of(address)
    if not any(me):
        raise SdkError(f"{address} is not an enrolled device")
    items = [_item_data(i) for i in client.items_to_review(me, campaign_id)]
    deadlines = {c: client.campaign(c).deadline for c in {d["campaign_id"] for d in items}}
    for d in items:
        d["deadline"] = deadlines[d["campaign_id"]]
    emit(
        items,
        lambda: (
            [f"{_item_line(d)}  confirm before {_when(d['deadline'])}" for d in items]
            or ["nothing to review"]
        ),
    )


@review.command()
@click.argument("campaign_id", type=click.IntRange(1))
@click.argument("item_ids", nargs=-1, type=click.IntRange(0))
@click.option("--all", "all_", is_flag=True, help="Every pending item of the campaign this key may confirm.")
@signer_options
def confirm(campaign_id: int, item_ids: tuple[int, ...], all_: bool) -> None:
    """Re-confirm ITEM_IDS of CAMPAIGN_ID as their reviewer (or --all of yours), before the deadline."""
    if bool(item_ids) == all_:
        raise click.UsageError("give ITEM_IDS or --all")
    client = session().client()
    ids = list(item_ids)
    if all_:
        from pamchain.sdk.errors import SdkError

        me = client.principal_of(client.account.address)
        ids = [i.id for i in client.items_to_review(me, campaign_id)]
        if not ids:
            raise SdkError(f"nothing of campaign {campaign_id} waits for you")
    results = (
        client.confirm_reviews(campaign_id, ids)
        if len(ids) > 1
        else [client.confirm_review(campaign_id, ids[0])]
    )
    emit(
        {"campaign_id": campaign_id, "confirmed": ids, "tx_hashes": [r.tx_hash for r in results]},
        [f"confirmed {campaign_id}/{i} (tx {r.tx_hash})" for i, r in zip(ids, results, strict=True)],
    )


@review.command()
@click.argument("campaign_id", type=click.IntRange(1))
@click.option("--item", "item_id", type=click.IntRange(0), help="Lapse only this item.")
@signer_options
def close(campaign_id: int, item_id: int | None) -> None:
    """After CAMPAIGN_ID's deadline (anyone): lapse what nobody re-confirmed — suspended or flagged, as the
    campaign says — and close it."""
    from pamchain.sdk.chain.events import ReviewItemLapsed

    client = session().client()
    results = (
        [client.lapse_review(campaign_id, item_id)]
        if item_id is not None
        else client.close_campaign(campaign_id)
    )
    lapsed = [e for r in results for e in r.events if isinstance(e, ReviewItemLapsed)]
    data = {
        "campaign_id": campaign_id,
        "lapsed": [
            {"item_id": e.item_id, "principal": e.principal, "target": e.target, "suspended": e.suspended}
            for e in lapsed
        ],
        "closed": item_id is None,
        "tx_hashes": [r.tx_hash for r in results],
    }
    outcomes = {True: "suspended", False: "already suspended, nothing more to do"}
    lines = [
        f"lapsed {campaign_id}/{e.item_id} 0x{e.principal.hex()} {_target(e.target)}: "
        + ("flagged (alarm raised)" if e.on_lapse.name == "FLAG" else outcomes[e.suspended])
        for e in lapsed
    ]
    lines.append(
        f"campaign {campaign_id} closed" if item_id is None else f"item {campaign_id}/{item_id} lapsed"
    )
    emit(data, lines)


@review.command()
@click.argument("campaign_id", type=click.IntRange(1))
@signer_options
def cancel(campaign_id: int) -> None:
    """End CAMPAIGN_ID without applying anything to its pending items (governed)."""
    report_tx(session().client().cancel_campaign(campaign_id), f"campaign {campaign_id} cancelled")
