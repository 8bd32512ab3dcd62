"""``pamchain notify``: run the notifier daemon, and ask a running one how it is."""

from __future__ import annotations

from pathlib import Path

import click

from .health_status import show_health
from .options import log_level_option


@click.group()
def notify() -> None:
    """Tell approvers, requesters and security officers of on-chain events (e-mail, webhooks)."""


@notify.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Notifier TOML file.",
)
@log_level_option
def run(config_path: Path, log_level: str) -> None:
    """Follow final blocks and deliver notifications until SIGINT/SIGTERM (a second signal exits at once)."""
    from pamchain.sdk.notify.assembly import from_config
    from pamchain.sdk.notify.config import NotifyConfig
    from pamchain.sdk.oracle import logs

    config = NotifyConfig.load(config_path)
    logs.configure(log_level)
    daemon = from_config(config)
    daemon.run(health_host=config.health_host, health_port=config.health_port)


@notify.command()
@click.option(
    "--url", default="http://127.0.0.1:9465", show_default=True, help="The notifier's health endpoint."
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
def status(url: str, as_json: bool) -> None:
    """Show a running notifier's health: checkpoint, queued, sent and failed notifications."""
    show_health(url, as_json=as_json, daemon="notifier")
