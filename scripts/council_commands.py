"""``pamchain council``: propose governed changes, approve them, and list proposals."""

from __future__ import annotations

from typing import Any

import click

from .options import emit, reader_options, report_tx, session, signer_options


@click.group()
def council() -> None:
    """The council's k-of-n proposals: every governed change after bootstrap goes through here."""


def _coerce(abi_type: str, text: str) -> Any:
    """A command-line word as the ABI type wants it; lists are comma-separated."""
    from pamchain.sdk.chain.abi import is_address, to_checksum_address

    from .options import BYTES32, DOMAIN, TARGET

    if abi_type.endswith("[]"):
        return [_coerce(abi_type[:-2], part) for part in text.split(",") if part]
    if abi_type == "address":
        if not is_address(text):
            raise click.BadParameter(f"{text!r} is not an address")
        return to_checksum_address(text)
    if abi_type == "bool":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise click.BadParameter(f"{text!r} is not true/false")
        return text.lower() in ("true", "1", "yes")
    if abi_type.startswith(("uint", "int")):
        try:
            return int(text, 0)
        except ValueError:
            raise click.BadParameter(f"{text!r} is not an integer") from None
    if abi_type == "bytes32":
        if text.startswith("0x"):
            return BYTES32.convert(text, None, None)
        if text in ("unlock", "password-reset") or "=" in text:
            return TARGET.convert(text, None, None)
        return DOMAIN.convert(text, None, None)
    if abi_type == "bytes":
        return bytes.fromhex(text.removeprefix("0x"))
    return text


@council.command()
@click.argument("function")
@click.argument("args", nargs=-1)
@signer_options
def propose(function: str, args: tuple[str, ...]) -> None:
    """Propose FUNCTION(ARGS...) of PamChain, PamNetwork or the Council, e.g. `propose reinstate 0x<directory id>`.

    Arguments take the function's ABI types: addresses, integers, true/false, bytes32 as 0x-hex (or a domain
    name, or a policy target such as `unlock` or a group DN); lists comma-separated.
    """
    client = session().client()
    contract = client.contract_for(function)
    abi = next(
        (
            item
            for item in (contract.abi if contract is not None else [])
            if item.get("type") == "function" and item["name"] == function
        ),
        None,
    )
    if abi is None or abi.get("stateMutability") in ("view", "pure"):
        raise click.BadParameter(
            f"{function!r} is not a function of the deployment that changes state", param_hint="FUNCTION"
        )
    inputs = abi["inputs"]
    if len(args) != len(inputs):
        wanted = ", ".join(f"{i['name']}: {i['type']}" for i in inputs)
        raise click.UsageError(f"{function} takes {len(inputs)} argument(s): {wanted}")
    values = [_coerce(i["type"], a) for i, a in zip(inputs, args, strict=True)]
    report_tx(client.propose(function, *values), f"proposed {function}")


@council.command()
@click.argument("proposal_id", type=int)
@signer_options
def approve(proposal_id: int) -> None:
    """Approve proposal PROPOSAL_ID; the approval that reaches the quorum executes it."""
    client = session().client()
    _proposal(client, proposal_id)
    result = client.approve_proposal(proposal_id)
    executed = any(getattr(e, "event", "") == "ProposalExecuted" for e in result.events)
    report_tx(
        result, f"approved proposal #{proposal_id}" + ("; quorum reached, executed" if executed else "")
    )


@council.command()
@click.argument("proposal_id", type=int)
@signer_options
def cancel(proposal_id: int) -> None:
    """Withdraw your own open proposal."""
    client = session().client()
    _proposal(client, proposal_id)
    report_tx(client.transact("cancel_proposal", proposal_id), f"cancelled proposal #{proposal_id}")


@council.command(name="end-bootstrap")
@signer_options
def end_bootstrap() -> None:
    """End the deployer's bootstrap power for good: from now on every change needs the council.

    Run by the bootstrapper it ends at once; run by a council member it is proposed to the council.
    """
    report_tx(session().client().end_bootstrap(), "bootstrap ended (or proposed)")


def _proposal(client: Any, proposal_id: int) -> dict[str, Any]:
    proposal = client.proposal(proposal_id)
    call = "0x" + proposal.data.hex()
    try:
        described = client.describe_call(proposal.target, proposal.data)
    except ValueError:  # a selector of ours with arguments that do not decode: shown raw
        described = None
    if described is not None:
        fn, args = described
        call = f"{fn}({', '.join(f'{k}={_show(v)}' for k, v in args.items())})"
    now = client.block_timestamp()
    return {
        "id": proposal_id,
        "proposer": proposal.proposer,
        "target": proposal.target,
        "call": call,
        "approvals": proposal.approvals,
        "state": proposal.state(now),
        "created": proposal.created,
        "expires": proposal.expires,
    }


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


@council.command(name="list")
@click.option("--open", "only_open", is_flag=True, help="Only proposals still open.")
@reader_options
def list_(only_open: bool) -> None:
    """List proposals with their decoded call, approvals and state; also shows the council."""
    client = session().reader()
    council_ = client.council()
    threshold, members = council_.threshold, list(council_.members)
    rows = [_proposal(client, i) for i in range(1, client.proposal_count() + 1)]
    if only_open:
        rows = [r for r in rows if r["state"] == "open"]

    def lines() -> list[str]:
        out = [f"council: {threshold}-of-{len(members)}; bootstrapping: {client.bootstrapping()}"]
        out += [f"  member {m}" for m in members]
        out += [f"#{r['id']:<4} {r['state']:<9} {r['approvals']}/{threshold}  {r['call']}" for r in rows]
        return out if rows else [*out, "no proposals"]

    emit(
        {
            "threshold": threshold,
            "members": members,
            "bootstrapping": client.bootstrapping(),
            "proposals": rows,
        },
        lines,
    )


def _set_node(node: str, allowed: bool) -> None:
    from eth_utils import keccak
    from pamchain.node.errors import NodeError
    from pamchain.node.p2p.identity import parse_node_id

    try:
        node_id = parse_node_id(node)
    except NodeError as exc:
        raise click.BadParameter(str(exc), param_hint="NODE") from None
    verb = "allowed" if allowed else "disallowed"
    report_tx(
        session().client().set_node(keccak(node_id), allowed),
        f"node {node_id.hex()[:16]}... {verb} (or proposed)",
    )


@council.command(name="allow-node")
@click.argument("node")
@signer_options
def allow_node(node: str) -> None:
    """Let NODE (a node id or pamchain:// address) peer with the network: run by the bootstrapper it applies at
    once, run by a council member it is proposed to the council. Every node follows it at its next block."""
    _set_node(node, True)


@council.command(name="disallow-node")
@click.argument("node")
@signer_options
def disallow_node(node: str) -> None:
    """Stop NODE from peering: every node refuses it and drops its links at its next block (after quorum)."""
    _set_node(node, False)
