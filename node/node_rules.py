"""Node permissioning: which nodes may peer with this one, read from the chain as Besu's NodeRules contract is.

Until the node permission contract (PamNetwork, ``config.pamchain.nodePermissionContract``) decides - it has
code and at least one allowed node at this node's head - the genesis ``nodeAllowlist`` decides (a node syncing
from genesis therefore reaches the sites its genesis file names; the list is local configuration, not part of
the genesis hash, so a node joining after every original site was replaced is given the current ones there).
From then on only the contract decides: a site the council removes is refused and disconnected by every node
at its next head, with no restart. Answers are cached per head, so a handshake costs one call per new head at
most.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from eth_utils import keccak

from .genesis import NODE_ALLOWED_SELECTOR, NODE_COUNT_SELECTOR

log = logging.getLogger(__name__)

#: Reads the contract at the current head: ``(to, calldata) -> (head hash, output)``; output None on failure.
HeadCall = Callable[[bytes, bytes], tuple[bytes, bytes | None]]

_CACHE = 1024  # node ids remembered per head


def node_hash(node_id: bytes) -> bytes:
    """The on-chain name of a node: keccak256 of its 64-byte public key (the devp2p node id)."""
    return keccak(node_id)


class NodeRules:
    """Answers "may this node peer with us?" against the chain's current head."""

    def __init__(
        self,
        genesis_list: frozenset[bytes] | None,
        contract: bytes | None,
        head: Callable[[], bytes],
        call: HeadCall,
    ) -> None:
        self.genesis_list = genesis_list
        self.contract = contract
        self._head = head
        self._call = call
        self._lock = threading.Lock()
        self._seen_head = b""
        self._live = False
        self._answers: OrderedDict[bytes, bool] = OrderedDict()

    @property
    def open(self) -> bool:
        """No permissioning at all: no genesis list and no contract."""
        return self.genesis_list is None and self.contract is None

    def contract_decides(self) -> bool:
        """Whether the contract has taken over from the genesis list at the current head."""
        if self.contract is None:
            return False
        if self._head() == self._seen_head:
            return self._live
        head, out = self._call(self.contract, NODE_COUNT_SELECTOR)
        live = out is not None and len(out) >= 32 and int.from_bytes(out[:32], "big") > 0
        with self._lock:
            if head != self._seen_head:
                self._seen_head, self._answers, self._live = head, OrderedDict(), live
            return self._live

    def allowed(self, node_id: bytes) -> bool:
        if self.open:
            return True
        if not self.contract_decides():
            return self.genesis_list is None or node_id in self.genesis_list
        assert self.contract is not None
        with self._lock:
            cached = self._answers.get(node_id)
        if cached is not None:
            return cached
        head, out = self._call(self.contract, NODE_ALLOWED_SELECTOR + node_hash(node_id))
        answer = out is not None and len(out) >= 32 and int.from_bytes(out[:32], "big") == 1
        with self._lock:
            if head == self._seen_head:
                self._answers[node_id] = answer
                while len(self._answers) > _CACHE:
                    self._answers.popitem(last=False)
        return answer
