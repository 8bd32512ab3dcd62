"""The benchmark workload: a grant-like Vyper contract and pre-signed type-2 transactions calling it.

``grant(address,bytes32,uint256)`` writes a 3-slot struct, bumps a counter and logs an event (about 96k gas),
the shape of pamchain's own grant. Transactions come from several senders (grant requests come from many
principals, and one sender would hit any pool's per-account limit), interleaved round-robin, signed once
per process and reused by every configuration of a run (signing is never timed).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from pamchain.node import contract_address

CHAIN_ID = 4242
GAS_LIMIT = 100_000_000  # block gas limit for every peer (about 1,000 grants per block)
MAX_FEE = 100 * 10**9  # far above any base fee a 10,000-tx burst can push the fee to
GRANT_SOURCE = """
# pragma version ^0.4.0
struct Grant:
    who: address
    role: bytes32
    expiry: uint256

event Granted:
    id: indexed(uint256)
    who: indexed(address)
    role: bytes32
    expiry: uint256

grants: public(HashMap[uint256, Grant])
count: public(uint256)

@external
def grant(who: address, role: bytes32, expiry: uint256):
    self.count += 1
    self.grants[self.count] = Grant(who=who, role=role, expiry=expiry)
    log Granted(id=self.count, who=who, role=role, expiry=expiry)
"""


@dataclass(frozen=True)
class Workload:
    chain_id: int
    deployer: LocalAccount
    senders: tuple[LocalAccount, ...]
    deploy: bytes  # raw deployment transaction (deployer nonce 0)
    txs: tuple[bytes, ...]  # raw grant transactions, round-robin over senders
    target: bytes  # the contract's address
    abi: tuple[dict, ...]

    @property
    def funded(self) -> list[str]:
        return [self.deployer.address, *(s.address for s in self.senders)]


@functools.cache
def compile_grant() -> tuple[tuple[dict, ...], str]:
    import vyper

    out = vyper.compile_code(GRANT_SOURCE, output_formats=["abi", "bytecode"])
    return tuple(out["abi"]), out["bytecode"]


def account(name: str) -> LocalAccount:
    return Account.from_key(keccak(text=f"pamchain-bench:{name}"))


@functools.cache
def workload(n: int, chain_id: int = CHAIN_ID, senders: int = 10) -> Workload:
    """``n`` grant transactions from ``senders`` accounts, plus the deployment, signed for ``chain_id``."""
    from web3 import Web3

    abi, bytecode = compile_grant()
    deployer = account("deployer")
    accounts = tuple(account(f"sender{i}") for i in range(senders))
    deploy = deployer.sign_transaction(
        {
            "data": bytecode,  # type: ignore[dict-item]  # hex str, which eth-account accepts
            "gas": 2_000_000,
            "maxFeePerGas": MAX_FEE,
            "maxPriorityFeePerGas": 1,
            "nonce": 0,
            "chainId": chain_id,
            "value": 0,
        }
    )
    target = contract_address(bytes.fromhex(deployer.address[2:]), 0)
    contract = Web3().eth.contract(abi=list(abi))
    to = Web3.to_checksum_address(target)
    txs = []
    for i in range(n):
        sender = accounts[i % senders]
        data = contract.encode_abi("grant", [sender.address, b"\x01" * 32, 10_000 + i])
        signed = sender.sign_transaction(
            {
                "to": to,
                "data": data,
                "gas": 150_000,
                "maxFeePerGas": MAX_FEE,
                "maxPriorityFeePerGas": 1,
                "nonce": i // senders,
                "chainId": chain_id,
                "value": 0,
            }
        )
        txs.append(bytes(signed.raw_transaction))
    return Workload(chain_id, deployer, accounts, bytes(deploy.raw_transaction), tuple(txs), target, abi)
