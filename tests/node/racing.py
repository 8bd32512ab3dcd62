"""In-process validators for race tests: one chain per validator, blocks handed from one to another only when a
test says so, so that every race between honest validators is played out exactly."""

from __future__ import annotations

import time
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Address
from pamchain.node import finality, load_genesis, make_genesis
from pamchain.node.chain import Chain
from pamchain.node.consensus import cached_signer
from pamchain.node.errors import ConflictsWithFinality
from pamchain.node.storage import open_store


def _address(account: LocalAccount) -> bytes:
    return bytes.fromhex(account.address[2:])


class Net:
    """Validators as in-process chains; nothing moves between them unless the test delivers it."""

    def __init__(self, size: int, datadirs: list[Path] | None = None) -> None:
        accounts = sorted(
            (Account.from_key(bytes([i + 1]) * 32) for i in range(size)), key=_address
        )  # sorted: validator i is signer i of the rotation (in turn at blocks n with n % size == i)
        doc = make_genesis([a.address for a in accounts], 4242, {}, timestamp=int(time.time()) - 100_000)
        self.accounts = accounts
        self.genesis = doc
        dirs: list[Path | None] = list(datadirs) if datadirs else [None] * size
        self.chains = [Chain(load_genesis(doc), open_store(d)) for d in dirs]
        self.finals: set[tuple[int, bytes]] = set()

    def seal(self, i: int) -> bytes:
        """Validator ``i`` seals on its head (it must be allowed to); returns the block hash."""
        chain, account = self.chains[i], self.accounts[i]
        assert chain.can_seal(_address(account)), f"validator {i} may not seal on #{chain.head.block_number}"
        key = keys.PrivateKey(account.key)
        built = chain.build_block([], Address(_address(account)), key, timestamp=chain.head.timestamp + 1)
        return built.hash

    def may_seal(self, i: int) -> bool:
        return self.chains[i].can_seal(_address(self.accounts[i]))

    def deliver(self, source: int, target: int) -> None:
        """Every block ``source`` holds on its canonical chain that ``target`` lacks, oldest first; refusals
        (a branch off ``target``'s finalized block) are what a real node logs and drops."""
        src, dst = self.chains[source], self.chains[target]
        for n in range(1, src.head.block_number + 1):
            header = src._header_by_number(n)
            if dst.has_block(header.hash):
                continue
            try:
                dst.import_block(src._evm_block(header))
            except ConflictsWithFinality:
                return

    def gossip(self) -> None:
        for source in range(len(self.chains)):
            for target in range(len(self.chains)):
                if source != target:
                    self.deliver(source, target)

    def run(self, rounds: int) -> None:
        """Fully linked rounds: everyone sees everything, then the first validator allowed to seal (in rotation
        order from the in-turn slot, as seal_delay ranks them) seals."""
        for _ in range(rounds):
            self.gossip()
            number = self.chains[0].head.block_number + 1
            order = [(number + k) % len(self.chains) for k in range(len(self.chains))]
            sealer = next((i for i in order if self.may_seal(i)), None)
            assert sealer is not None, f"nobody may seal #{number}: {self.describe()}"
            self.seal(sealer)
            self.record_finals()
        self.gossip()

    def signer_of(self, chain: Chain, block_hash: bytes) -> int:
        signer = cached_signer(chain._header_by_hash(block_hash))
        return [_address(a) for a in self.accounts].index(signer)

    def describe(self) -> str:
        return "; ".join(
            f"v{i}: head #{c.head.block_number} by v{self.signer_of(c, c.head.hash) if c.head.block_number else '-'}"
            f", final #{c.finalized.block_number}"
            for i, c in enumerate(self.chains)
        )

    def record_finals(self) -> None:
        """Note every validator's final block now (checked at the end: none may ever be reverted anywhere)."""
        for chain in self.chains:
            self.finals.add((chain.finalized.block_number, chain.finalized.hash))

    def assert_one_final_chain(self) -> None:
        """Every block any validator ever held final is on every validator's canonical chain, and finality keeps
        up with the head: no block waits more than ``3E - 2`` blocks for it (node/finality.py), counted from
        a head sealed by a linked network that had at least ``3E`` rounds."""
        self.record_finals()
        epoch = finality.epoch_length(len(self.chains))
        for chain in self.chains:
            assert chain.head.block_number - chain.finalized.block_number <= 3 * epoch - 2, self.describe()
        for number, block_hash in sorted(self.finals):
            for other in self.chains:
                assert other.head.block_number >= number, self.describe()
                assert other._header_by_number(number).hash == block_hash, (number, self.describe())
