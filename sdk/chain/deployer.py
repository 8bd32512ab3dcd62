"""Deploy a pamchain suite from a plan (council, oracles, principals, policies) and hand power to the council.

The deployer acts only while bootstrapping; the last step ends bootstrap, after which every change needs the
council's quorum. Used by ``scripts/``, the demo and the tests, so there is one way to stand a suite up. A plan
comes from code or from a deployment TOML file (:func:`load_plan`; ``docs/deploy/deploy.example.toml``
documents every key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, keccak, to_checksum_address
from pamchain.sdk.chain.client import SUSPENDER_ROLE, Deployment, PamClient
from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET, to_bytes32
from pamchain.sdk.config_file import read_toml
from pamchain.sdk.directory import group_target_id, read_pseudonym_key
from pamchain.sdk.errors import ConfigError
from web3 import Web3


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
    # PamReviews may suspend what a campaign saw lapse (Role.SUSPENDER on PamChain); False: FLAG campaigns only.
    reviews_may_suspend: bool = True


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
    client.transact_all(bootstrap_calls(plan, reviews=deployment.reviews))
    return client, deployment


def bootstrap_calls(plan: Plan, *, reviews: str | None = None) -> list[tuple[str, tuple[Any, ...]]]:
    """The bootstrapper's calls that apply ``plan``, in order (roles, PamReviews' SUSPENDER role when
    ``reviews`` is given, oracles, principals, policies, nodes, end)."""
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for account, roles in plan.roles.items():
        calls.append(("set_roles", (Web3.to_checksum_address(account), roles)))
    if reviews is not None and plan.reviews_may_suspend:
        calls.append(("set_roles", (Web3.to_checksum_address(reviews), SUSPENDER_ROLE)))
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


# ------------------------------------------------------------------------------- from a TOML file
ROLE_BITS = {"oracle": 1, "operator": 2}
_POLICY_KEYS = {
    "target",
    "domain",
    "approvers",
    "approvals_required",
    "max_duration",
    "max_pending",
    "self_service",
    "enabled",
    "break_glass_approvals",
    "break_glass_max_duration",
    "break_glass_cooldown",
    "requesters",
    "unlock_limit",
    "unlock_window",
    "require",
}
_REQUIRE = {"justification": 1, "ticket": 2}
# Defaults that keep a file that leaves them out safe: a day of bootstrap at most, a few unlocks a day, and
# four hours between one person's break-glass grants.
DEFAULT_BOOTSTRAP_TTL = 24 * 3600
DEFAULT_UNLOCK_LIMIT = 3
DEFAULT_UNLOCK_WINDOW = 24 * 3600
DEFAULT_BREAK_GLASS_COOLDOWN = 4 * 3600


def domain_id(text: str) -> bytes:
    """``corp.example`` → right-padded bytes32; ``0x`` + 64 hex digits as is."""
    if text.startswith("0x") and len(text) == 66:
        return bytes.fromhex(text[2:])
    raw = text.encode()
    if not raw or len(raw) > 32:
        raise ValueError(f"domain {text!r} must be 1-32 bytes or 0x + 64 hex digits")
    return raw.ljust(32, b"\x00")


def target_id(text: str, pseudonym_key: bytes | None = None) -> bytes:
    """``unlock``, ``password-reset``, a group DN (its keyed id: ``pseudonym_key`` needed) or 0x + 64 hex."""
    if text == "unlock":
        return UNLOCK_TARGET
    if text == "password-reset":
        return PASSWORD_RESET_TARGET
    if text.startswith("0x"):
        return _hex32(text, "target")
    if "=" in text:
        if pseudonym_key is None:
            raise ValueError(
                f"target {text!r}: a group DN needs the top-level pseudonym_key_file (its on-chain id is keyed), "
                "or give the group's 0x id (`pamchain policy target-id`)"
            )
        return group_target_id(pseudonym_key, text)
    raise ValueError(f"target {text!r}: unlock, password-reset, a group DN or 0x + 64 hex digits")


def _hex32(text: str, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(text).removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{what} {text!r} is not 0x + 64 hex digits")
    return raw


def _address(text: Any, what: str) -> str:
    if not isinstance(text, str) or not is_address(text):
        raise ValueError(f"{what} {text!r} is not an address")
    return to_checksum_address(text)


def _int(section: Mapping[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


def load_plan(
    path: str | Path,
    *,
    passphrase_for: Callable[[Path], str] | None = None,
    node_id: Callable[[str], bytes] | None = None,
) -> Plan:
    """Read a deployment TOML into a plan; every mistake is a :class:`ConfigError` naming the section.

    An oracle given as ``keystore = "..."`` is decrypted (``passphrase_for(path)``) only to derive its
    address and X25519 public key; the key itself is not kept. Entries of ``nodes`` are read by ``node_id``
    (the node's own parser, ``pamchain.node.p2p.identity.parse_node_id``: the SDK does not know the node's
    address format).
    """
    path = Path(path)
    doc, _ = read_toml(path, "deployment config")
    where = "[council]"
    try:
        council = doc.get("council") or {}
        members = [_address(m, "council member") for m in council.get("members", [])]
        threshold = _int(council, "threshold", 2)
        if len(members) < 2 or not 2 <= threshold <= len(members):
            raise ValueError("needs at least 2 members and 2 <= threshold <= members")
        ids: dict[str, bytes] = {}
        principals = []
        for index, entry in enumerate(doc.get("principals", [])):
            where = f"[[principals]] #{index + 1}"
            directory_id = _hex32(entry["directory_id"], "directory_id")
            if "name" in entry:
                ids[str(entry["name"])] = directory_id
            principals.append(
                PrincipalSpec(_address(entry["device"], "device"), directory_id, domain_id(entry["domain"]))
            )
        oracles = []
        for index, entry in enumerate(doc.get("oracles", [])):
            where = f"[[oracles]] #{index + 1}"
            oracles.append(_oracle(entry, path.parent, passphrase_for))
            same_domain = [o for o in oracles if o.domain == oracles[-1].domain]
            if len({o.enc_pubkey for o in same_domain}) > 1:
                raise ValueError(
                    "several oracles of one domain must share the domain's encryption key: give each the same "
                    "encryption_key_file (`pamchain oracle domain-key FILE` makes one) or the same enc_pubkey"
                )
        where = "pseudonym_key_file"
        pseudonym_key = None
        if doc.get("pseudonym_key_file") is not None:
            pseudonym_key = read_pseudonym_key(path.parent / str(doc["pseudonym_key_file"]))
        policies = []
        for index, entry in enumerate(doc.get("policies", [])):
            where = f"[[policies]] #{index + 1}"
            unknown = set(entry) - _POLICY_KEYS
            if unknown:
                raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
            approvers = tuple(
                ids[a] if a in ids else _hex32(a, "approver") for a in entry.get("approvers", [])
            )
            requesters = tuple(
                ids[r] if r in ids else _hex32(r, "requester") for r in entry.get("requesters", [])
            )
            target = target_id(entry["target"], pseudonym_key)
            require = entry.get("require", [])
            if not isinstance(require, list) or any(r not in _REQUIRE for r in require):
                raise ValueError("require must be a list of 'justification' and 'ticket'")
            unlock = target == UNLOCK_TARGET
            self_service = bool(entry.get("self_service", False))
            policies.append(
                PolicySpec(
                    target,
                    domain_id(entry["domain"]),
                    approvers=approvers,
                    approvals_required=0 if self_service else _int(entry, "approvals_required", 1),
                    max_duration=_int(entry, "max_duration", 0),
                    max_pending=_int(entry, "max_pending", 3600),
                    self_service=self_service,
                    enabled=bool(entry.get("enabled", True)),
                    break_glass_approvals=_int(entry, "break_glass_approvals", 0),
                    break_glass_max_duration=_int(entry, "break_glass_max_duration", 0),
                    requesters=requesters,
                    break_glass_cooldown=_int(entry, "break_glass_cooldown", DEFAULT_BREAK_GLASS_COOLDOWN),
                    unlock_limit=_int(entry, "unlock_limit", DEFAULT_UNLOCK_LIMIT if unlock else 0),
                    unlock_window=_int(entry, "unlock_window", DEFAULT_UNLOCK_WINDOW if unlock else 0),
                    requirements=sum({_REQUIRE[r] for r in require}),
                )
            )
        where = "[roles]"
        roles = {}
        for account, names in (doc.get("roles") or {}).items():
            bits = 0
            for name in [names] if isinstance(names, str) else names:
                if name not in ROLE_BITS:
                    raise ValueError(f"unknown role {name!r} (operator)")
                bits |= ROLE_BITS[name]
            roles[_address(account, "role holder")] = bits
        where = "nodes"
        nodes = [_node_id(str(n), node_id) for n in doc.get("nodes", [])]
        return Plan(
            council=members,
            threshold=threshold,
            proposal_ttl=_int(council, "proposal_ttl", 7 * 24 * 3600),
            bootstrap_ttl=_int(council, "bootstrap_ttl", DEFAULT_BOOTSTRAP_TTL),
            oracles=oracles,
            principals=principals,
            policies=policies,
            roles=roles,
            nodes=nodes,
            end_bootstrap=bool(council.get("end_bootstrap", True)),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: {where}: missing key {exc.args[0]!r}") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from exc


def _node_id(text: str, parse: Callable[[str], bytes] | None) -> bytes:
    if parse is None:
        raise ValueError("node ids need the node's parser (load_plan(node_id=...))")
    try:
        return parse(text)
    except Exception as exc:  # the node's own error type: the SDK does not import the node
        raise ValueError(str(exc)) from exc


def _oracle(entry: Mapping[str, Any], base: Path, passphrase_for: Callable[[Path], str] | None) -> OracleSpec:
    domain = domain_id(entry["domain"])
    if "keystore" in entry:
        from pamchain.sdk.keys import load_account
        from pamchain.sdk.payloads.sealed import public_key

        keystore = (base / str(entry["keystore"])).expanduser()
        if passphrase_for is None:
            raise ValueError("an oracle keystore needs its passphrase")
        account = load_account(keystore, passphrase_for(keystore))
        if "encryption_key_file" in entry:  # the domain's shared secret (several oracles for one domain)
            from pamchain.sdk.payloads.sealed import load_domain_secret

            secret = load_domain_secret((base / str(entry["encryption_key_file"])).expanduser())
            return OracleSpec(domain, account.address, public_key(secret))
        return OracleSpec(domain, account.address, public_key(account.key))
    return OracleSpec(
        domain, _address(entry["address"], "address"), _hex32(entry["enc_pubkey"], "enc_pubkey")
    )


def deploy_to_file(w3: Web3, deployer: LocalAccount, plan: Plan, output: Path) -> Deployment:
    """Deploy the plan and write the deployment file everyone else reads; returns the :class:`Deployment`."""
    _client, deployment = deploy_plan(w3, deployer, plan)
    output.parent.mkdir(parents=True, exist_ok=True)
    deployment.save(output)
    return deployment
