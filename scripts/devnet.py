"""``pamchain devnet``: command wiring for :mod:`pamchain.devnet.runner` (a whole pamchain on this machine)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--datadir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep everything here (default: a temp dir, removed at exit).",
)
@click.option(
    "--port",
    default=8545,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="JSON-RPC port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--payload-port",
    default=8547,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Payload store port (0: any).",
)
@click.option(
    "--samba", is_flag=True, help="Use a throwaway local Samba AD DC instead of the in-memory directory."
)
@click.option(
    "--grant-seconds",
    default=5,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="The scenario's elevation length.",
)
@click.option("--no-scenario", is_flag=True, help="Start everything but skip the scenario.")
@click.option(
    "--scenario-only",
    "--no-wait",
    "scenario_only",
    is_flag=True,
    help="Exit after the scenario instead of running on.",
)
def devnet(
    datadir: Path | None,
    port: int,
    payload_port: int,
    samba: bool,
    grant_seconds: int,
    no_scenario: bool,
    scenario_only: bool,
) -> None:
    """Run a whole pamchain here: node, contracts, payload store, oracle and directory, a scenario, then wait.

    Everything listens on 127.0.0.1 only. Ctrl-C (SIGINT) or SIGTERM stops every part, at any point of the
    start-up too; nothing is left running. Exit status: 0 when stopped once running, 128 + the signal (130,
    143) when stopped during start-up, 1 when a part (the Samba DC, the oracle) died.
    """
    from pamchain.devnet.runner import run_devnet

    run_devnet(
        datadir=datadir,
        port=port,
        payload_port=payload_port,
        samba=samba,
        grant_seconds=grant_seconds,
        scenario=not no_scenario,
        keep_running=not scenario_only,
        echo=click.echo,
    )
