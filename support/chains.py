"""Chain backends: pamchain's own node (in process, over HTTP) and anvil (a process), with funded actors.

Both are plain Ethereum JSON-RPC endpoints to the SDK and the oracle: the same tests run on each, proving
that nothing in the SDK or the oracle depends on pamchain's node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.node.genesis import deployment_genesis
from pamchain.node.service import run_node
from pamchain.sdk.chain.client import Deployment, PamClient, connect
from pamchain.sdk.oracle.follower import Finality
from web3 import Web3

from .anvil import anvil_process

NAMES = ("deployer", "c1", "c2", "c3", "oracle", "oracle2", "alice", "bob", "carol")


@dataclass
class ChainEnv:
    """A running chain with funded actors."""

    kind: str
    url: str
    w3: Web3
    accounts: dict[str, LocalAccount]
    finality: Finality


def test_accounts() -> dict[str, LocalAccount]:
    return {n: Account.from_key(keccak(text=f"pamchain-test-key:{n}")) for n in NAMES}


@contextlib.contextmanager
def pamchain_node(tmp: Path, *, genesis_period: int | None = None, **options: object) -> Iterator[ChainEnv]:
    """A single-validator pamchain node sealing on demand, with account permissioning on. Its genesis has
    Clique period 0 when it seals on demand (blocks may share a second, docs/node.md), else 1."""
    accounts = test_accounts()
    signer = Account.from_key(keccak(text="pamchain-test-signer"))
    if genesis_period is None:
        genesis_period = 0 if options.get("seal_mode", "on-demand") == "on-demand" else 1
    genesis = deployment_genesis(
        [signer.address],
        1337,
        {a.address: 10**24 for a in accounts.values()},
        accounts["deployer"].address,
        period=genesis_period,
    )
    with run_node(genesis, signer.key, tmp / "node", **options) as node:  # type: ignore[arg-type]
        yield ChainEnv("pamchain", node.url, connect(node.url), accounts, Finality())


@contextlib.contextmanager
def anvil(tmp: Path) -> Iterator[ChainEnv]:
    """anvil with automine, its HOME inside the test's temp dir, stopped by pid."""
    with anvil_process(tmp, ["--chain-id", "31337"]) as (url, _process):
        w3 = connect(url)
        accounts = test_accounts()
        for account in accounts.values():
            w3.provider.make_request("anvil_setBalance", [account.address, hex(10**24)])  # type: ignore[arg-type]
        # anvil's `finalized` trails the head by design; with automine every mined block is final here.
        yield ChainEnv("anvil", url, w3, accounts, Finality(confirmations=0))


@contextlib.contextmanager
def chain_backend(kind: str, tmp: Path) -> Iterator[ChainEnv]:
    if kind == "pamchain":
        with pamchain_node(tmp) as env:
            yield env
    elif kind == "anvil":
        with anvil(tmp) as env:
            yield env
    else:
        raise ValueError(kind)


def save_deployment(deployment: Deployment, path: Path) -> Path:
    deployment.save(path)
    return path


__all__ = ["ChainEnv", "PamClient", "chain_backend", "save_deployment"]
