"""The demo world the devnet and the demo share: its people, council and keys, its deployment plan, and how
an event reads on screen."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.sdk.chain.deployer import OracleSpec, Plan, PolicySpec, PrincipalSpec
from pamchain.sdk.chain.events import Event, GenericEvent

DEMO_PASSPHRASE = "devnet-demo-only"  # printed on screen: these keys guard nothing but a throwaway chain
KEY_ITERATIONS = 2**14  # scrypt n for demo keys: fast to open; real keys use eth-account's default (2**18)
CHAIN_ID = 1337
DOMAIN_NAME = "corp.example"
DOMAIN = DOMAIN_NAME.encode().ljust(32, b"\x00")
DC_ID = b"DC1".ljust(32, b"\x00")
PEOPLE = ("alice", "bob", "carol")
COUNCIL = ("council-1", "council-2", "council-3")
NAMES = ("deployer", *COUNCIL, "oracle", *PEOPLE)
FIRST_PASSWORD = "Winter-Harbour-Lamp-81"
NEW_PASSWORD = "Quiet-Orange-Lantern-27"
PSEUDONYM_KEY = keccak(text="devnet pseudonym key: generate your own with `openssl rand -hex 32`")


def write_keys(root: Path) -> tuple[dict[str, LocalAccount], dict[str, Path], Path]:
    """A keystore per name under ``root/keys`` and the passphrase file; returns accounts, paths, that file."""
    from pamchain.sdk.keys import create_keystore

    password_file = root / "keys" / "passphrase.txt"
    password_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    password_file.write_text(DEMO_PASSPHRASE + "\n")
    password_file.chmod(0o600)
    accounts, paths = {}, {}
    for name in NAMES:
        path, account = create_keystore(root / "keys" / name, DEMO_PASSPHRASE, iterations=KEY_ITERATIONS)
        accounts[name], paths[name] = account, path
    return accounts, paths, password_file


def world_plan(
    council: Sequence[str],
    oracle: LocalAccount,
    principals: Sequence[PrincipalSpec],
    group: bytes,
    approvers: tuple[bytes, ...],
    requesters: tuple[bytes, ...],
    *,
    unlock_limit: int,
    unlock_window: int,
    end_bootstrap: bool = True,
    more_policies: Sequence[PolicySpec] = (),
    **group_policy: Any,
) -> Plan:
    """The deployment every world of the project starts from (the demo, the devnet, the benchmarks, the SDK,
    CLI and phone tests): a 2-of-3 ``council``, one ``oracle`` of :data:`DOMAIN`, self-service unlocks,
    password resets one of ``approvers`` approves, and elevation to ``group`` as ``group_policy`` says
    (``PolicySpec``'s options: approvals, durations, break-glass); ``more_policies`` follow."""
    from pamchain.sdk.chain.model import PASSWORD_RESET_TARGET, UNLOCK_TARGET
    from pamchain.sdk.payloads.sealed import public_key

    return Plan(
        council=list(council),
        threshold=2,
        oracles=[OracleSpec(DOMAIN, oracle.address, public_key(oracle.key))],
        principals=list(principals),
        policies=[
            PolicySpec(
                UNLOCK_TARGET,
                DOMAIN,
                self_service=True,
                approvals_required=0,
                max_pending=600,
                unlock_limit=unlock_limit,
                unlock_window=unlock_window,
            ),
            PolicySpec(PASSWORD_RESET_TARGET, DOMAIN, approvers=approvers, approvals_required=1),
            PolicySpec(group, DOMAIN, approvers=approvers, requesters=requesters, **group_policy),
            *more_policies,
        ],
        end_bootstrap=end_bootstrap,
    )


def demo_plan(accounts: dict[str, LocalAccount], ids: dict[str, bytes], group: bytes) -> Plan:
    """The demo world's deployment: a 2-of-3 council, one oracle, alice/bob/carol, three policies."""
    return world_plan(
        [accounts[n].address for n in COUNCIL],
        accounts["oracle"],
        [PrincipalSpec(accounts[n].address, ids[n], DOMAIN) for n in PEOPLE],
        group,
        (ids["bob"], ids["carol"]),
        tuple(ids[n] for n in PEOPLE),
        unlock_limit=5,
        unlock_window=24 * 3600,
        approvals_required=2,
        max_duration=3600,
        break_glass_approvals=1,
        break_glass_max_duration=900,
        break_glass_cooldown=4 * 3600,
    )


def _short(value: object) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00")
        if text and all(32 <= c < 127 for c in text) and len(value) == 32 and value.endswith(b"\x00"):
            return text.decode()
        return "0x" + value.hex()[:8] + "…"
    if hasattr(value, "name") and hasattr(value, "value"):
        return str(value.name)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value[:8] + "…"
    return str(value)


def describe(event: Event) -> str:
    """One line per event: its name and its arguments, ids shortened."""
    args: dict[str, Any]
    if isinstance(event, GenericEvent):
        name, args = event.event, dict(event.args)
    else:
        name = type(event).__name__
        args = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "at"}
    body = ", ".join(f"{k}={_short(v)}" for k, v in args.items() if k not in {"approvers", "data"})
    return f"  block {event.at.block_number:>3}  {name}({body})"
