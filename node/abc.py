"""Interfaces between the node's layers (what the txpool needs from the chain, what the RPC needs from a node)."""

from __future__ import annotations

from typing import Protocol


class AccountView(Protocol):
    """What the txpool needs to know about accounts, as of the head (the parent of the next block)."""

    def nonce(self, sender: bytes) -> int: ...

    def balance(self, sender: bytes) -> int: ...

    def is_allowed(self, sender: bytes) -> bool: ...

    @property
    def block_gas_limit(self) -> int: ...
