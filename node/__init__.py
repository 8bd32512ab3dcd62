"""pamchain's private-chain node: py-evm (Prague) under Clique, crash-safe storage, JSON-RPC.

Start one in-process::

    from pamchain.node import run_node
    with run_node(genesis, signer_key, datadir, seal_mode="on-demand") as node:
        print(node.url)
"""

from .errors import (
    AccountNotAllowed,
    ExecutionFailed,
    ExecutionReverted,
    GenesisError,
    InvalidBlock,
    NodeError,
    NotFound,
    PoolLimitExceeded,
    StorageError,
    TransactionRejected,
)
from .genesis import Genesis, contract_address, deployment_genesis, load_genesis, make_genesis
from .service import Node, NodeConfig, NodeHandle, run_node

__all__ = [
    "AccountNotAllowed",
    "ExecutionFailed",
    "ExecutionReverted",
    "Genesis",
    "GenesisError",
    "InvalidBlock",
    "Node",
    "NodeConfig",
    "NodeError",
    "NodeHandle",
    "NotFound",
    "PoolLimitExceeded",
    "StorageError",
    "TransactionRejected",
    "contract_address",
    "deployment_genesis",
    "load_genesis",
    "make_genesis",
    "run_node",
]
