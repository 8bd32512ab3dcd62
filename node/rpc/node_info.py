"""What the node runs and holds: ``eth_config`` (EIP-7910 fork configuration) and ``eth_capabilities``."""

from __future__ import annotations

import zlib
from typing import Any

from ..chain import Chain
from ..genesis import Genesis
from ..records import HeaderRecord
from . import format as fmt

# EIP-7910 names of the precompiles, by address (py-evm says which addresses a fork has).
PRECOMPILE_NAMES = {
    1: "ECREC",
    2: "SHA256",
    3: "RIPEMD160",
    4: "ID",
    5: "MODEXP",
    6: "BN254_ADD",
    7: "BN254_MUL",
    8: "BN254_PAIRING",
    9: "BLAKE2F",
    0x0A: "KZG_POINT_EVALUATION",
    0x0B: "BLS12_G1ADD",
    0x0C: "BLS12_G1MSM",
    0x0D: "BLS12_G2ADD",
    0x0E: "BLS12_G2MSM",
    0x0F: "BLS12_PAIRING_CHECK",
    0x10: "BLS12_MAP_FP_TO_G1",
    0x11: "BLS12_MAP_FP2_TO_G2",
    0x100: "P256VERIFY",  # EIP-7951 (Osaka), on a pamchain genesis with config.pamchain.p256Verify
}
# System contracts by the fork that introduced them (EIP-4788, EIP-2935, EIP-7002, EIP-7251).
BEACON_ROOTS = "0x000f3df6d732807ef1319fb7b8bb8522d0beac02"
HISTORY_STORAGE = "0x0000f90827f1c53a10cb7a02335b175320002935"
WITHDRAWAL_REQUESTS = "0x00000961ef480eb55e80d19ad83579a64c007002"
CONSOLIDATION_REQUESTS = "0x0000bbddc7ce488642fb579f8b00f3a590007251"
# EIP-4844 / EIP-7691 blob parameters when the genesis has no ``blobSchedule``.
DEFAULT_BLOBS = {
    "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3_338_477},
    "prague": {"target": 6, "max": 9, "baseFeeUpdateFraction": 5_007_716},
}


def fork_id(genesis_hash: bytes, activations: list[int]) -> str:
    """EIP-2124 fork hash: CRC32 of the genesis hash, then of each past activation (8 bytes, big-endian)."""
    crc = zlib.crc32(genesis_hash)
    for at in activations:
        crc = zlib.crc32(at.to_bytes(8, "big"), crc)
    return "0x" + crc.to_bytes(4, "big").hex()


def _activations(genesis: Genesis) -> list[tuple[str, str, int]]:
    """(fork, kind, at) for every fork after genesis, deduplicated like geth's ``gatherForks``."""
    out: list[tuple[str, str, int]] = []
    seen: set[tuple[str, int]] = set()
    for act in genesis.schedule.activations:
        after_genesis = act.at > (0 if act.kind == "block" else genesis.timestamp)
        if after_genesis and (act.kind, act.at) not in seen:
            seen.add((act.kind, act.at))
            out.append((act.name, act.kind, act.at))
    return out


def _fork_json(
    genesis: Genesis, genesis_hash: bytes, fork: str, at: int, precompiles: tuple[bytes, ...]
) -> dict[str, Any]:
    config = genesis.raw.get("config", {})
    blobs = (config.get("blobSchedule") or {}).get(fork) or DEFAULT_BLOBS.get(fork)
    contracts: dict[str, str] = {}
    if fork in ("cancun", "prague"):
        contracts["BEACON_ROOTS_ADDRESS"] = BEACON_ROOTS
    if fork == "prague":
        deposit = config.get("depositContractAddress") or "0x" + "00" * 20
        contracts.update(
            {
                "CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS": CONSOLIDATION_REQUESTS,
                "DEPOSIT_CONTRACT_ADDRESS": deposit.lower(),
                "HISTORY_STORAGE_ADDRESS": HISTORY_STORAGE,
                "WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS": WITHDRAWAL_REQUESTS,
            }
        )
    past = [a for _f, _k, a in _activations(genesis) if a <= at] if at else []
    return {
        "activationTime": at,
        "blobSchedule": None
        if blobs is None
        else {k: blobs[k] for k in ("target", "max", "baseFeeUpdateFraction")},
        "chainId": fmt.q(genesis.chain_id),
        "forkId": fork_id(genesis_hash, past),
        "precompiles": {
            PRECOMPILE_NAMES.get(int.from_bytes(a, "big"), fmt.d(a)): fmt.d(a) for a in sorted(precompiles)
        },
        "systemContracts": contracts or None,
    }


def config_json(chain: Chain, head: HeaderRecord) -> dict[str, Any]:
    """``eth_config``: the fork ruling the next block (``current``), the one after it (``next``) and the last
    one scheduled (``last``), each as EIP-7910 describes. Only time-scheduled forks have an ``activationTime``;
    a fork scheduled by block number reports the activation it had (its block number) as the spec leaves it."""
    genesis: Genesis = chain.genesis
    number, head_timestamp = head.number + 1, head.timestamp
    current = genesis.schedule.fork_at(number, head_timestamp + 1)
    forks = _activations(genesis)
    by_name = {name: at for name, _kind, at in forks}
    later = [(name, at) for name, kind, at in forks if kind == "time" and at > head_timestamp + 1]

    def one(fork: str, at: int) -> dict[str, Any]:
        return _fork_json(genesis, chain.genesis_hash, fork, at, chain.precompiles(fork))

    return {
        "current": one(current, by_name.get(current, 0)),
        "next": one(*later[0]) if later else None,
        "last": one(*later[-1]) if later else None,
    }


def capabilities_json(head: HeaderRecord) -> dict[str, Any]:
    """``eth_capabilities``: pamchain is an archive node (no pruning yet), so every resource reaches back to
    genesis and none has a delete strategy (the spec makes it optional)."""
    everything = {"disabled": False, "oldestBlock": "0x0"}
    return {
        "head": {"number": fmt.q(head.number), "hash": fmt.d(head.hash)},
        **{
            resource: dict(everything)
            for resource in ("state", "tx", "logs", "receipts", "blocks", "stateproofs")
        },
    }
