"""Where a pamchain suite lives (the deployment file) and which ABI it speaks; no web3, so any reader can load it."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pamchain.sdk.chain.abi import keccak, to_checksum_address
from pamchain.sdk.config_file import read_json
from pamchain.sdk.errors import ConfigError

DEPLOYABLE = "PamChain"  # the contract requests, grants and receipts live on
COUNCIL = "Council"  # the k-of-n governor of the deployment
NETWORK = "PamNetwork"  # the node allowlist
FACTORS = "PamFactors"  # the passkeys PamChain checks approvals and break-glass requests against
REVIEWS = "PamReviews"  # access-review campaigns
# The suite's contracts in routing order: a function name two of them share is PamChain's (``council``).
SUITE = (DEPLOYABLE, COUNCIL, NETWORK, FACTORS, REVIEWS)
SUSPENDER_ROLE = 4  # PamChain's Role.SUSPENDER: may suspend principals and nothing else (held by PamReviews)


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where a pamchain suite lives: what the SDK and CLI need to find it again."""

    chain_id: int
    address: str
    block: int
    abi_version: str
    block_hash: str | None = None  # the deployment block's hash: the oracle's light client trusts it
    council: str | None = None  # the Council contract (PamChain also names it: ``council()``)
    network: str | None = None  # the PamNetwork contract, if deployed
    reviews: str | None = None  # the PamReviews contract; deployments made before access reviews have none

    def save(self, path: str | os.PathLike[str]) -> None:
        entry: dict[str, Any] = {"address": self.address, "block": self.block}
        if self.block_hash is not None:
            entry["block_hash"] = self.block_hash
        contracts: dict[str, Any] = {DEPLOYABLE: entry}
        if self.council is not None:
            contracts[COUNCIL] = {"address": self.council}
        if self.network is not None:
            contracts[NETWORK] = {"address": self.network}
        if self.reviews is not None:
            contracts[REVIEWS] = {"address": self.reviews}
        Path(path).write_text(
            json.dumps(
                {
                    "chain_id": self.chain_id,
                    "contracts": contracts,
                    "abi_version": self.abi_version,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Deployment:
        data = read_json(path, "deployment file")
        try:
            entry = data["contracts"][DEPLOYABLE]
            others = {
                name: to_checksum_address(data["contracts"][name]["address"])
                for name in (COUNCIL, NETWORK, REVIEWS)
                if name in data["contracts"]
            }
            return cls(
                int(data["chain_id"]),
                to_checksum_address(entry["address"]),
                int(entry["block"]),
                str(data["abi_version"]),
                str(entry["block_hash"]) if entry.get("block_hash") else None,
                others.get(COUNCIL),
                others.get(NETWORK),
                others.get(REVIEWS),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a pamchain deployment file") from exc


def suite_artifacts(name: str = DEPLOYABLE) -> dict[str, Any]:
    """ABI and bytecode of one deployable as shipped with the package (built once from the Vyper sources)."""
    from pamchain.contracts import artifacts

    return dict(artifacts()[name])


@functools.cache
def abi_version() -> str:
    """A short fingerprint of the suite's ABIs, so a client can refuse a deployment it does not speak."""
    abi = [{**item, "contract": name} for name in SUITE for item in suite_artifacts(name)["abi"]]
    canonical = json.dumps(sorted(abi, key=lambda item: json.dumps(item, sort_keys=True)), sort_keys=True)
    return keccak(text=canonical).hex()[:16]


__all__ = [
    "COUNCIL",
    "DEPLOYABLE",
    "FACTORS",
    "NETWORK",
    "REVIEWS",
    "SUITE",
    "SUSPENDER_ROLE",
    "Deployment",
    "abi_version",
    "suite_artifacts",
]
