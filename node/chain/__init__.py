"""The chain layer: the only place that handles py-evm objects (VMs, headers, transactions, receipts).

It configures py-evm VM classes from the genesis' fork schedule (Clique-configured for a pamchain genesis,
``NoProofConsensus`` for chains imported from elsewhere), builds and seals blocks (``building``), validates
and imports transactions and blocks (``importing``), answers state and history queries as the frozen records
of ``records.py`` (``queries``, ``logs``) and runs read-only calls (``execution``, ``reader``); ``base`` holds what they
share (store, VMs, genesis, headers, signers, commit, finality); ``pruning`` what each commit does to the
kept states. Blocks cross this layer's boundary as
``HeaderRecord`` both ways (``headers``: a py-evm header to its record and back).

All methods are synchronous and NOT thread-safe: the node calls them from a single chain thread, which is
also what guarantees that a reader never sees a half-built block (see ``service.py``). ``CallReader`` is the
exception: one per worker thread, on committed state.
"""

from __future__ import annotations

from .building import Building, BuildResult
from .importing import Importing, PreparedTx
from .logs import Logs
from .pruning import DEFAULT_STATE_HISTORY
from .queries import Queries
from .reader import CallReader


class Chain(Building, Importing, Queries, Logs):
    """One chain on one store: ``Chain(genesis, store, seal_check=True)`` opens it (writing block 0 if new)."""


__all__ = ["DEFAULT_STATE_HISTORY", "BuildResult", "CallReader", "Chain", "PreparedTx"]
