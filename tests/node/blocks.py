"""Blocks of contract calls built on an in-process chain: the setup the storage tests (log index, pruning) share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from eth_utils import to_checksum_address
from pamchain.node import load_genesis
from pamchain.node.chain import Chain
from pamchain.node.storage import open_store

from .conftest import CHAIN_ID


class CallBlocks:
    """A chain and one sender's next nonce on it; ``build`` seals a block of that sender's calls."""

    def __init__(
        self, doc: dict[str, Any], sender: LocalAccount, datadir: Path | None = None, **options: Any
    ) -> None:
        self.chain = Chain(load_genesis(doc), open_store(datadir), **options)
        self.sender = sender
        self.nonce = 0

    def build(self, calls: list[tuple[bytes, bytes]], gas: int, signer: LocalAccount, timestamp: int) -> None:
        """Seal one block of ``calls`` ((contract, calldata), each with ``gas``) by ``signer``; all included."""
        txs = []
        for contract, data in calls:
            raw = self.sender.sign_transaction(
                {
                    "to": to_checksum_address(contract),
                    "value": 0,
                    "gas": gas,
                    "maxFeePerGas": 10**10,
                    "maxPriorityFeePerGas": 0,
                    "nonce": self.nonce,
                    "chainId": CHAIN_ID,
                    "data": data,
                }
            ).raw_transaction
            txs.append(self.chain.decode_transaction(bytes(raw)))
            self.nonce += 1
        key = keys.PrivateKey(signer.key)
        built = self.chain.build_block(
            txs, Address(key.public_key.to_canonical_address()), key, timestamp=timestamp
        )
        assert len(built.included) == len(calls)
