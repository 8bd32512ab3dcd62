"""The node's exception hierarchy: one root, ``NodeError``, with subclasses that carry data."""

from __future__ import annotations


class NodeError(Exception):
    """Root of every error the node raises on purpose."""


class GenesisError(NodeError, ValueError):
    """A genesis document is malformed or inconsistent."""


class StorageError(NodeError):
    """The persistent store cannot be opened or does not match the genesis it is asked to serve."""


class NotFound(NodeError, KeyError):
    """A block, transaction or receipt the caller asked for does not exist."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return self.what


class StateUnavailable(NodeError):
    """The state of a block this node no longer keeps (pruned: older than its ``--state-history`` window);
    worded as geth words it, so clients that recognise geth's answer recognise this one."""

    def __init__(self, state_root: bytes) -> None:
        super().__init__(f"state 0x{state_root.hex()} is not available")
        self.state_root = state_root


class TransactionRejected(NodeError, ValueError):
    """A transaction fails a validity rule (submission, building or import); ``reason`` is geth-like."""

    def __init__(self, reason: str, tx_hash: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tx_hash = tx_hash

    def __str__(self) -> str:
        return self.reason


class AccountNotAllowed(TransactionRejected):
    """The sender is neither on the genesis allowlist nor allowed by the permission contract."""

    def __init__(self, sender: bytes, tx_hash: bytes | None = None) -> None:
        super().__init__(
            f"account not allowed: 0x{sender.hex()} is not permitted to send transactions", tx_hash
        )
        self.sender = sender


class PoolLimitExceeded(TransactionRejected):
    """A permitted account reached a free-gas limit of the pool (pending zero-price transactions, or gas per
    window); ``retry_after`` is the seconds until the same transaction would fit (None: only once some of the
    account's pending transactions are mined)."""

    def __init__(
        self, reason: str, sender: bytes, tx_hash: bytes | None = None, retry_after: float | None = None
    ):
        super().__init__(reason, tx_hash)
        self.sender = sender
        self.retry_after = retry_after


class InvalidBlock(NodeError, ValueError):
    """A block fails validation on import (seal, execution, permissioning)."""

    def __init__(self, reason: str, number: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.number = number

    def __str__(self) -> str:
        where = f"block {self.number}: " if self.number is not None else ""
        return f"{where}{self.reason}"


class ConflictsWithFinality(InvalidBlock):
    """A well-formed block on a branch that left this node's finalized chain: a fork (say a healed partition's
    minority side), not proof that its sender misbehaves."""


class ExecutionReverted(NodeError):
    """An ``eth_call`` / ``eth_estimateGas`` reverted; ``data`` is the revert payload (may be empty)."""

    def __init__(self, data: bytes, reason: str | None = None) -> None:
        self.data = data
        self.reason = reason
        message = "execution reverted" + (f": {reason}" if reason else "")
        super().__init__(message)


class ExecutionFailed(NodeError):
    """An ``eth_call`` / ``eth_estimateGas`` failed for a reason other than REVERT (out of gas, bad opcode)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExecutionTimeout(NodeError, TimeoutError):
    """A user call ran past its time budget (``--rpc-evm-timeout``) and was aborted."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        shown = f"{timeout:g}s"
        super().__init__(f"execution aborted (timeout = {shown})")
