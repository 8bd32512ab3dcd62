"""The ``pamchain`` command: one click group per area; user errors exit non-zero with one line, no traceback."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from pamchain.devnet.lifecycle import Stopped

# Every command, loaded only when it runs (or when `--help` of that command is asked): importing all
# of them took seconds (web3, the node, the devnet) before any work. name -> (module, attribute, summary); the
# summary is what `pamchain --help` lists, checked against each command's own help by tests/scripts.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "keys": (
        "keys_commands",
        "keys",
        "Device and service keys (Web3 Secret Storage keystore files, scrypt).",
    ),
    "deploy": (
        "deploy_commands",
        "deploy",
        "Deploy the contracts as the config says, end bootstrap, and write --deployment (default "
        "./deployment.json).",
    ),
    "council": (
        "council_commands",
        "council",
        "The council's k-of-n proposals: every governed change after bootstrap goes through here.",
    ),
    "principal": (
        "principal_commands",
        "principal",
        "Principals: a device key acting for a pseudonymous directory id.",
    ),
    "policy": (
        "policy_commands",
        "policy",
        "Per-target policies: requesters, approvers, quorum, durations, self-service, break-glass, unlock limit.",
    ),
    "request": (
        "request_commands",
        "request",
        "Ask for access: unlock your account, temporary elevation, or a password reset.",
    ),
    "approve": (
        "request_commands",
        "approve",
        "Approve REQUEST_ID as one of its policy's approvers (never your own).",
    ),
    "deny": ("request_commands", "deny", "Deny REQUEST_ID."),
    "revoke": (
        "request_commands",
        "revoke",
        "End REQUEST_ID's grant now (requester, approver or council member); the oracle removes the membership.",
    ),
    "review": (
        "review_commands",
        "review",
        "Access reviews: the council opens a campaign, reviewers re-confirm, the rest is suspended or flagged.",
    ),
    "grants": (
        "ledger_commands",
        "grants",
        "List elevation grants: window, state (active, expired, ended) and why they ended.",
    ),
    "receipts": (
        "ledger_commands",
        "receipts",
        "List oracle receipts: request, action, outcome, domain controller, transaction.",
    ),
    "oracle": (
        "oracle_commands",
        "oracle",
        "The oracle daemon that makes Active Directory follow the chain.",
    ),
    "notify": (
        "notify_commands",
        "notify",
        "Tell approvers, requesters and security officers of on-chain events (e-mail, webhooks).",
    ),
    "payload-store": (
        "payload_store_commands",
        "payload_store",
        "The hash-addressed store of sealed password payloads (beside a node, like Tessera for GoQuorum).",
    ),
    "audit": (
        "audit_commands",
        "audit",
        "For auditors: history as CSV/JSON, and an independent check of the chain.",
    ),
    "backup": (
        "backup_commands",
        "backup",
        "Snapshot services' state online (SQLite stores copied consistently while they run) into one archive.",
    ),
    "restore": (
        "backup_commands",
        "restore",
        "Verify ARCHIVE, then put the named parts back (each in an empty place unless --force).",
    ),
    "devnet": (
        "devnet",
        "devnet",
        "Run a whole pamchain here: node, contracts, payload store, oracle and directory, a scenario, then wait.",
    ),
    "demo": (
        "demo",
        "demo",
        "Compile the contracts, deploy them on an in-process chain and play a full scenario, printing events.",
    ),
    "web": (
        "web_commands",
        "web",
        "Serve the phone app: device key kept in the browser, requests and approvals signed on the phone.",
    ),
    # The node owns its commands (pamchain.node.cli); the CLI only mounts them.
    "node": ("pamchain.node.cli", "node", "Run and manage a pamchain validator node."),
}


def load_command(name: str) -> click.Command:
    """Import the command ``name`` of :data:`COMMANDS` (its module is imported once, by Python's cache)."""
    import importlib

    module, attribute, _ = COMMANDS[name]
    path = module if "." in module else f"{__package__}.{module}"
    command = getattr(importlib.import_module(path), attribute)
    assert isinstance(command, click.Command)
    return command


class PamchainGroup(click.Group):
    """Runs every command under one error boundary: a domain error becomes ``error: <reason>`` and exit 1.

    Commands listed in :data:`COMMANDS` are imported only when used, so a command pays for its own imports only.
    """

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries, without importing every command."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, _shorten(self.lazy[name][2], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except _stopped() as exc:  # `devnet`/`demo` ended by a signal (it said so) or by a part that died
            if not exc.said_so:
                click.secho(f"error: {exc}", fg="red", err=True)
            # Every part is stopped and every line said: exit now. Tearing the interpreter's modules down
            # took 1-3 s more on a loaded machine, seconds the person waits for the prompt after Ctrl-C.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.exit_code)
        except Exception as exc:
            if _is_user_error(exc):
                click.secho(f"error: {_in_user_terms(exc)}", fg="red", err=True)
                sys.exit(1)
            raise


def _stopped() -> type[Stopped]:
    """The devnet's ``Stopped``, imported only once an exception is on its way (an ``except`` clause is
    evaluated then), so that no other command pays for the import."""
    from pamchain.devnet.lifecycle import Stopped

    return Stopped


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word to fit ``limit`` characters, as click shortens a command's help."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(" ,.;:") + "..."


def _in_user_terms(exc: Exception) -> str:
    """A contract revert as a sentence in the user's language (sdk/data/reasons.json), its code kept after it
    for the operator; any other error as it is."""
    from pamchain.sdk.errors import ContractRevert

    if not isinstance(exc, ContractRevert):
        return str(exc)
    from pamchain.sdk.reasons import explain, language

    text = explain(exc.code, language(), exc.params)
    return f"{text} ({exc.code})" if text else str(exc)


def _is_user_error(exc: Exception) -> bool:
    """Errors that describe bad input or a bad environment, not a bug: shown as one line."""
    import requests
    from pamchain.devnet.lifecycle import DevnetError
    from pamchain.sdk.errors import SdkError

    user_errors: tuple[type[Exception], ...] = (
        SdkError,
        DevnetError,  # the devnet cannot start here
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


@click.group(cls=PamchainGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pamchain")
def main() -> None:
    """pamchain: privileged access to Active Directory, decided and audited on a permissioned chain."""


if __name__ == "__main__":
    main()
