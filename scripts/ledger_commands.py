"""``pamchain grants`` and ``pamchain receipts``: what was granted, and what the oracles say they did."""

from __future__ import annotations

import click

from .options import emit, reader_options, session


@click.command()
@click.option("--active", "only_active", is_flag=True, help="Only grants still in force.")
@click.option("--subject", default=None, help="Only grants of this directory id (0x + 64 hex).")
@reader_options
def grants(only_active: bool, subject: str | None) -> None:
    """List elevation grants: window, state (active, expired, ended) and why they ended."""
    import dataclasses

    from pamchain.sdk.chain.audit import grant_records, iter_events

    current = session()
    reader = current.reader()
    records = grant_records(iter_events(reader, current.deployment().block), reader.block_timestamp())
    if only_active:
        records = [g for g in records if g.state == "active"]
    if subject is not None:
        records = [g for g in records if "0x" + g.subject.hex() == subject.lower()]
    emit(
        [dataclasses.asdict(g) for g in records],
        [
            f"{g.request_id:>5}  {g.state:<8} subject 0x{g.subject.hex()[:12]}…  target 0x{g.target.hex()[:12]}…  "
            f"{g.start}→{g.expiry}" + (f"  ({g.end_reason})" if g.end_reason else "")
            for g in records
        ]
        or ["no grants"],
    )


@click.command()
@click.option("--request", "request_id", type=int, default=None, help="Only receipts of this request.")
@reader_options
def receipts(request_id: int | None) -> None:
    """List oracle receipts: request, action, outcome, domain controller, transaction."""
    import dataclasses

    from pamchain.sdk.chain.audit import iter_events, receipt_records

    current = session()
    records = receipt_records(iter_events(current.reader(), current.deployment().block))
    if request_id is not None:
        records = [r for r in records if r.request_id == request_id]
    emit(
        [dataclasses.asdict(r) for r in records],
        [
            f"{r.request_id:>5}  {r.action:<14} {r.outcome:<8} dc {r.dc_id.rstrip(bytes(1)).decode(errors='replace')}  "
            f"block {r.block_number}  tx {r.tx_hash}"
            for r in records
        ]
        or ["no receipts"],
    )
