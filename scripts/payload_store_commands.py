"""``pamchain payload-store``: run the store of sealed password payloads beside a node."""

from __future__ import annotations

from pathlib import Path

import click

from .options import DEPLOYMENT_ENV, RPC_URL_ENV, log_level_option


@click.group("payload-store")
def payload_store() -> None:
    """The hash-addressed store of sealed password payloads (beside a node, like Tessera for GoQuorum)."""


@payload_store.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file ([chain] rpc_url, deployment; [store] data_dir, host, port, quotas, TLS); options win.",
)
@click.option("--rpc-url", envvar=RPC_URL_ENV, help=f"The node's JSON-RPC URL [env {RPC_URL_ENV}].")
@click.option(
    "--deployment",
    envvar=DEPLOYMENT_ENV,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Deployment file written by `pamchain deploy` [env {DEPLOYMENT_ENV}].",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where payloads are kept.")
@click.option("--host", help="Address to listen on [default 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (0: any) [default 8547].")
@click.option(
    "--max-payloads", type=click.IntRange(min=1), help="Payloads one principal may hold [default 4]."
)
@click.option("--max-bytes", type=click.IntRange(min=1), help="Bytes one principal may hold [default 16384].")
@click.option(
    "--orphan-ttl",
    type=click.FloatRange(min=0),
    help="Seconds before a payload no request names is purged [default 3600].",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds after which any payload or justification is purged [default 604800: 7 days].",
)
@click.option(
    "--purge-interval",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds between purges [default 60].",
)
@click.option(
    "--tls-cert", type=click.Path(dir_okay=False, path_type=Path), help="PEM certificate (with --tls-key)."
)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), help="PEM private key.")
@click.option(
    "--store-id", help="Id signatures are bound to [default: made at first start, kept in the data dir]."
)
@click.option(
    "--signer-refresh",
    type=click.FloatRange(min=0),
    help="Least seconds between two reads of the chain's signer set [default 2].",
)
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), help="Requests per second per client [default 5]."
)
@click.option("--burst", type=click.IntRange(min=1), help="Requests a client may send at once [default 20].")
@log_level_option
def run(config_path: Path | None, log_level: str, **overrides: object) -> None:
    """Serve the payload store until SIGINT/SIGTERM (a second signal exits at once)."""
    from pamchain.sdk.oracle import logs
    from pamchain.sdk.payloads.service import PayloadService, PayloadStoreConfig

    logs.configure(log_level)
    config = PayloadStoreConfig.load(config_path) if config_path is not None else PayloadStoreConfig()
    config = config.with_overrides(**overrides)
    PayloadService(config).run(on_ready=lambda url: click.echo(f"payload store listening on {url}"))
