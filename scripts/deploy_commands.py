"""``pamchain deploy``: stand a suite up from a TOML file and write the deployment file everyone else reads."""

from __future__ import annotations

from pathlib import Path

import click

from .options import DEFAULT_DEPLOYMENT, emit, session, signer_options


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deployment TOML (see docs/deploy/deploy.example.toml).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing deployment file.")
@signer_options
def deploy(config_path: Path, force: bool) -> None:
    """Deploy the contracts as the config says, end bootstrap, and write --deployment (default ./deployment.json).

    The deploying key (--keystore) must be allowed to send transactions: make the genesis with
    `pamchain node genesis --deployer <its address>` (docs/first-deployment.md).
    """
    from pamchain.node.p2p.identity import parse_node_id
    from pamchain.sdk.chain.deployer import deploy_to_file, load_plan
    from pamchain.sdk.keys import read_passphrase

    current = session()
    output = (current.deployment_path or Path(DEFAULT_DEPLOYMENT)).expanduser()
    if output.exists() and not force:
        raise click.ClickException(
            f"{output} exists: pass --force to overwrite it, or choose another --deployment"
        )

    def oracle_passphrase(path: Path) -> str:
        secret = read_passphrase()
        return (
            secret
            if secret is not None
            else click.prompt(f"Passphrase for {path.name}", hide_input=True, err=True)
        )

    plan = load_plan(config_path, passphrase_for=oracle_passphrase, node_id=parse_node_id)
    deployer = current.signer()
    deployment = deploy_to_file(current.w3(), deployer, plan, output)
    emit(
        {
            "address": deployment.address,
            "chain_id": deployment.chain_id,
            "block": deployment.block,
            "abi_version": deployment.abi_version,
            "deployment_file": str(output),
        },
        [
            f"deployed PamChain at {deployment.address} (chain {deployment.chain_id}, block {deployment.block})",
            f"  council {plan.threshold}-of-{len(plan.council)}; {len(plan.oracles)} oracle(s), "
            f"{len(plan.principals)} principal(s), {len(plan.policies)} polic{'y' if len(plan.policies) == 1 else 'ies'}; "
            f"bootstrap {'ended' if plan.end_bootstrap else 'still open'}",
            f"  wrote {output}",
        ],
    )
