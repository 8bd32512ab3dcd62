"""``pamchain audit``: export the deployment's whole history, and re-verify the chain from genesis."""

from __future__ import annotations

from pathlib import Path

import click

from .options import chain_options, emit, json_option, progress, rpc_option, session, style


@click.group()
def audit() -> None:
    """For auditors: history as CSV/JSON, and an independent check of the chain."""


@audit.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout)."
)
@click.option("--from-block", type=click.IntRange(0), default=None, help="Default: the deployment block.")
@chain_options
def export(fmt: str, output: Path | None, from_block: int | None) -> None:
    """Every request, approval, grant, revocation, receipt, alarm and governance event, with block, time and tx."""
    from pamchain.sdk.chain.audit import audit_rows, iter_events, rows_to_csv, rows_to_json

    current = session()
    client = current.reader()
    first = current.deployment().block if from_block is None else from_block
    head = client.block_number()
    with progress(range(first, head + 1), head + 1 - first, "reading events") as bar:
        step = getattr(bar, "update", None)
        events = list(iter_events(client, first, head, on_chunk=step))
    rows = audit_rows(events, client)
    text = rows_to_csv(rows) if fmt == "csv" else rows_to_json(rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote {len(rows)} events (blocks {first}-{head}) to {output}", err=True)


@audit.command()
@click.option("--genesis-hash", default=None, help="The published genesis hash to anchor the check to.")
@click.option("--to-block", type=click.IntRange(0), default=None, help="Default: the head.")
@click.option(
    "--epoch",
    type=click.IntRange(1),
    default=30_000,
    show_default=True,
    help="The chain's Clique epoch (genesis config.clique.epoch): checkpoints restate the signers.",
)
@rpc_option
@json_option
def verify(genesis_hash: str | None, to_block: int | None, epoch: int) -> None:
    """Re-check every block from genesis: parent links, header hashes, Clique seals, tx and receipt roots.

    Exits 0 and prints OK on an intact chain; otherwise names the first bad block and exits 1. State roots
    are taken as served (not replayed).
    """
    from pamchain.sdk.chain.chain_check import ChainRpc, verify_chain

    rpc = ChainRpc(session().rpc_url)
    head = int(rpc.call("eth_blockNumber"), 16) if to_block is None else to_block
    with progress(range(head + 1), head + 1, "verifying blocks") as bar:
        update = getattr(bar, "update", None)
        verdict = verify_chain(
            rpc,
            last=head,
            genesis_hash=genesis_hash,
            on_block=(lambda _n: update(1)) if update else None,
            epoch=epoch,
        )
    data = {
        "ok": verdict.ok,
        "checked": verdict.checked,
        "head": verdict.head,
        "genesis_hash": verdict.genesis_hash,
        "signers": list(verdict.signers),
        "bad_block": None
        if verdict.bad is None
        else {"number": verdict.bad.number, "hash": verdict.bad.hash, "reason": verdict.bad.reason},
    }
    if verdict.bad is None:
        emit(
            data,
            [
                style("OK", fg="green", bold=True)
                + f": {verdict.checked} blocks (0-{verdict.head}) verified",
                f"  genesis {verdict.genesis_hash}; signers {', '.join(verdict.signers)}",
            ],
        )
        return
    bad = verdict.bad
    emit(
        data,
        [
            style("BAD", fg="red", bold=True) + f": block {bad.number} ({bad.hash}): {bad.reason}",
            f"  blocks 0-{bad.number - 1} verified" if bad.number else "  the genesis itself fails",
        ],
    )
    raise SystemExit(1)
