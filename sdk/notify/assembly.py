"""Builds a ready notifier from its parts or from a configuration file: the one place the parts are wired."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.notify.config import NotifyConfig
from pamchain.sdk.notify.daemon import NotifyDaemon
from pamchain.sdk.notify.dispatcher import Channel, Dispatcher
from pamchain.sdk.notify.follower import NotifyFollower
from pamchain.sdk.notify.journal import NotifyJournal
from pamchain.sdk.notify.mail import EmailChannel
from pamchain.sdk.notify.webhook import WebhookChannel


def assemble(
    client: PamClient,
    config: NotifyConfig,
    *,
    start_block: int | None,
    journal_path: str | Path | None = None,
    clock: Callable[[], float] = time.time,
) -> NotifyDaemon:
    """Wire a notifier reading through ``client`` (read-only: it sends no transaction); a new journal starts
    at ``start_block``, or at the current final block when None."""
    journal = NotifyJournal(journal_path if journal_path is not None else config.journal)
    follower = NotifyFollower(
        client,
        journal,
        config.recipients,
        officers=config.security_officers,
        targets=config.targets,
        start_block=start_block,
        finality=config.finality,
        clock=clock,
    )
    channels: dict[str, Channel] = {"webhook": WebhookChannel(config.webhooks, clock=clock)}
    if config.smtp is not None:
        channels["email"] = EmailChannel(config.smtp)
    dispatcher = Dispatcher(journal, channels, config.recipients, retry=config.retry, clock=clock)
    return NotifyDaemon(journal, follower, dispatcher, poll_interval=config.poll_interval, clock=clock)


def from_config(config: NotifyConfig) -> NotifyDaemon:
    """A notifier as the configuration file describes it: node, deployment, channels, recipients."""
    deployment = Deployment.load(config.deployment)
    client = PamClient.from_deployment(connect(config.rpc_url), deployment)
    start = {"deployment": deployment.block, "head": None}.get(str(config.start), config.start)
    return assemble(client, config, start_block=None if start is None else int(start))
