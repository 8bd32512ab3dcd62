"""``pamchain web``: serve the phone app and its same-origin relay to the node and payload store."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from .options import DEFAULT_DEPLOYMENT, DEFAULT_RPC_URL, DEPLOYMENT_ENV, PAYLOAD_STORE_ENV, RPC_URL_ENV


@click.command()
@click.option(
    "--rpc-url", envvar=RPC_URL_ENV, default=DEFAULT_RPC_URL, show_default=True, help="The node's JSON-RPC."
)
@click.option(
    "--deployment",
    envvar=DEPLOYMENT_ENV,
    default=DEFAULT_DEPLOYMENT,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Deployment file written by `pamchain deploy`.",
)
@click.option("--payload-store-url", envvar=PAYLOAD_STORE_ENV, help="Payload store (password changes).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any).")
@click.option("--domain-name", help="The AD domain's name as enrolled on chain (e.g. corp.example).")
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='TOML: [people."0x<id>"] label/account, groups = ["CN=...", ...] (shown to approvers).',
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name phones reach this app by (e.g. pam.corp.example behind your proxy); loopback always.",
)
@click.option(
    "--session-idle",
    "session_idle_s",
    default=300,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds without use after which the phone forgets the decrypted key.",
)
@click.option(
    "--session-hidden",
    "session_hidden_s",
    default=60,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds in the background after which the phone forgets the decrypted key.",
)
@click.option(
    "--recent-auth",
    "recent_auth_s",
    default=120,
    show_default=True,
    type=click.IntRange(1),
    help="Approvals, denials, break-glass, key export and password changes re-ask the passphrase after this.",
)
def web(
    rpc_url: str,
    deployment: Path,
    payload_store_url: str | None,
    host: str,
    port: int,
    domain_name: str | None,
    labels: Path | None,
    allowed_hosts: tuple[str, ...],
    session_idle_s: int,
    session_hidden_s: int,
    recent_auth_s: int,
) -> None:
    """Serve the phone app: device key kept in the browser, requests and approvals signed on the phone.

    Put it behind your HTTPS reverse proxy for real phones (browsers only give crypto to secure origins
    other than localhost). The relay forwards signed transactions unchanged; this server holds no key.
    """
    from pamchain.web.server import WebError, load_labels, start_web

    people, groups = load_labels(labels) if labels is not None else ({}, {})
    try:
        handle = start_web(
            rpc_url=rpc_url,
            deployment=deployment,
            payload_store_url=payload_store_url,
            host=host,
            port=port,
            domain_name=domain_name,
            people=people,
            groups=groups,
            allowed_hosts=allowed_hosts,
            session_idle_s=session_idle_s,
            session_hidden_s=session_hidden_s,
            recent_auth_s=recent_auth_s,
        )
    except WebError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}): pass --port") from exc
    click.echo(f"pamchain web: {handle.url} (relay to {rpc_url}); Ctrl-C stops it")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        handle.stop()
    click.echo("stopped.")
