"""Deploy a pamchain suite from a plan (council, oracles, principals, policies) and hand power to the council.

The deployer acts only while bootstrapping; the last step ends bootstrap, after which every change needs the
council's quorum. Used by ``scripts/``, the demo and the tests, so there is one way to stand a suite up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from .client import Deployment, PamClient
from .model import to_bytes32


@dataclass(frozen=True, slots=True)
class OracleSpec:
    domain: bytes
    address: str
    enc_pubkey: bytes


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    device: str
    directory_id: bytes
    domain: bytes


@dataclass(frozen=True, slots=True)
class PolicySpec:
    target: bytes
    domain: bytes
    approvers: tuple[bytes, ...] = ()
    approvals_required: int = 1
    max_duration: int = 0
    max_pending: int = 3600
    self_service: bool = False
    enabled: bool = True
    break_glass_approvals: int = 0
    break_glass_max_duration: int = 0
    requesters: tuple[bytes, ...] = ()  # who may request a group target; empty: nobody
    break_glass_cooldown: int = 0
    unlock_limit: int = 0  # nonzero for the unlock target
    unlock_window: int = 0  # nonzero for the unlock target
    requirements: int = 0  # REQUIRE_JUSTIFICATION | REQUIRE_TICKET bits for a group's elevations


@dataclass(frozen=True)
class Plan:
    """What a new deployment starts with."""

    council: Sequence[str]
    threshold: int
    proposal_ttl: int = 7 * 24 * 3600
    # The deployer's direct power ends at end_bootstrap or after this many seconds, whichever is first.
    bootstrap_ttl: int = 24 * 3600
    oracles: Sequence[OracleSpec] = ()
    principals: Sequence[PrincipalSpec] = ()
    policies: Sequence[PolicySpec] = ()
    roles: dict[str, int] = field(default_factory=dict)
    # Node ids (64-byte public keys) PamNetwork allows to peer; empty: the genesis nodeAllowlist keeps deciding.
    nodes: Sequence[bytes] = ()
    end_bootstrap: bool = True
    # The WebAuthn relying party of the phone app (its domain) and whether passkeys must verify the user.
    rp_id: str = "localhost"
    require_uv: bool = True


def deploy_plan(w3: Web3, deployer: LocalAccount, plan: Plan) -> tuple[PamClient, Deployment]:
    """Deploy the suite and apply ``plan`` while bootstrapping; end bootstrap unless the plan says not to."""
    client, deployment = PamClient.deploy(
        w3,
        deployer,
        plan.council,
        plan.threshold,
        plan.proposal_ttl,
        plan.bootstrap_ttl,
        rp_id=plan.rp_id,
        require_uv=plan.require_uv,
    )
    client.transact_all(bootstrap_calls(plan))
    return client, deployment


def bootstrap_calls(plan: Plan) -> list[tuple[str, tuple[Any, ...]]]:
    """The bootstrapper's calls that apply ``plan``, in order (roles, oracles, principals, policies, nodes, end)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for account, roles in plan.roles.items():
        calls.append(("set_roles", (Web3.to_checksum_address(account), roles)))
    for oracle in plan.oracles:
        calls.append(
            (
                "set_oracle",
                (
                    to_bytes32(oracle.domain),
                    Web3.to_checksum_address(oracle.address),
                    to_bytes32(oracle.enc_pubkey),
                ),
            )
        )
    for principal in plan.principals:
        calls.append(
            (
                "enrol",
                (
                    Web3.to_checksum_address(principal.device),
                    to_bytes32(principal.directory_id),
                    to_bytes32(principal.domain),
                ),
            )
        )
    for policy in plan.policies:
        calls.append(
            (
                "set_policy",
                (
                    to_bytes32(policy.target),
                    to_bytes32(policy.domain),
                    policy.approvals_required,
                    policy.max_duration,
                    policy.max_pending,
                    policy.self_service,
                    policy.enabled,
                    policy.break_glass_approvals,
                    policy.break_glass_max_duration,
                    [to_bytes32(a) for a in policy.approvers],
                    [to_bytes32(r) for r in policy.requesters],
                    policy.break_glass_cooldown,
                    policy.unlock_limit,
                    policy.unlock_window,
                ),
            )
        )
        if policy.requirements:
            calls.append(("set_requirements", (to_bytes32(policy.target), policy.requirements)))
    if plan.nodes:  # one call: nodes switch from the genesis list to the contract at the block holding it
        calls.append(("set_nodes", ([keccak(node_id) for node_id in plan.nodes], True)))
    if plan.end_bootstrap:
        calls.append(("end_bootstrap", ()))
    return calls
