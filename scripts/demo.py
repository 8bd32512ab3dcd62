"""``pamchain demo``: command wiring for :mod:`pamchain.devnet.demo` (the stories on a throwaway chain)."""

from __future__ import annotations

import click


@click.command()
@click.option("--grant-seconds", default=120, show_default=True, help="Duration of the demo elevation.")
def demo(grant_seconds: int) -> None:
    """Compile the contracts, deploy them on an in-process chain and play a full scenario, printing events."""
    from pamchain.devnet.demo import run_demo

    run_demo(grant_seconds=grant_seconds, echo=click.echo)
