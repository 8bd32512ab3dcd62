"""The ``pamchain`` command: one click group per area; user errors exit non-zero with one line, no traceback."""

from __future__ import annotations

import sys
from typing import Any

import click


class PamchainGroup(click.Group):
    """Runs every command under one error boundary: a domain error becomes ``error: <reason>`` and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if _is_user_error(exc):
                click.secho(f"error: {exc}", fg="red", err=True)
                sys.exit(1)
            raise


def _is_user_error(exc: Exception) -> bool:
    """Errors that describe bad input or a bad environment, not a bug: shown as one line."""
    import requests
    from pamchain.sdk.errors import SdkError

    user_errors: tuple[type[Exception], ...] = (
        SdkError,
        FileNotFoundError,
        PermissionError,
        ConnectionError,
        requests.exceptions.ConnectionError,  # the node went away in the middle of a command
    )
    try:
        from pamchain.node.errors import NodeError

        user_errors += (NodeError,)
    except ImportError:
        pass
    return isinstance(exc, user_errors)


@click.group(cls=PamchainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pamchain")
def main() -> None:
    """pamchain: privileged access to Active Directory, decided and audited on a permissioned chain."""


@main.command()
@click.option("--grant-seconds", default=120, show_default=True, help="Duration of the demo elevation.")
def demo(grant_seconds: int) -> None:
    """Compile the contracts, deploy them on an in-process chain and play a full scenario, printing events."""
    from .demo import run_demo

    run_demo(grant_seconds=grant_seconds, echo=click.echo)


def _register_groups() -> None:
    from .audit_commands import audit
    from .backup_commands import backup, restore
    from .council_commands import council
    from .deploy_commands import deploy
    from .devnet import devnet
    from .keys_commands import keys
    from .ledger_commands import grants, receipts
    from .notify_commands import notify
    from .oracle_commands import oracle
    from .payload_store_commands import payload_store
    from .policy_commands import policy
    from .principal_commands import principal
    from .request_commands import approve, deny, request, revoke
    from .web_commands import web

    for command in (
        keys,
        deploy,
        council,
        principal,
        policy,
        request,
        approve,
        deny,
        revoke,
        grants,
        receipts,
        oracle,
        notify,
        payload_store,
        audit,
        backup,
        restore,
        devnet,
        web,
    ):
        main.add_command(command)
    from pamchain.node.cli import node  # the node owns its commands; the CLI only mounts them

    main.add_command(node)


_register_groups()


if __name__ == "__main__":
    main()
