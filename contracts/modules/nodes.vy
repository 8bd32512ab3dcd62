# pragma version ~=0.4.3
"""
@title Nodes: which validator and relay nodes may connect to the network
@custom:contract-name nodes
@license Apache-2.0
@notice On-chain node permissioning, as Besu's NodeRules contract does: a
        node is named by its node id, keccak256 of its 64-byte secp256k1
        public key (the same id devp2p uses). Every node reads
        `is_node_allowed` at its head and drops peers no longer allowed, so
        adding or removing a site is a council decision that needs no
        restart.
"""

from . import governance

uses: governance


# Node id -> whether it may connect.
is_node_allowed: public(HashMap[bytes32, bool])
# How many node ids are allowed.
node_count: public(uint256)


event NodeSet:
    node_id: indexed(bytes32)
    allowed: bool


# Most node ids one `set_nodes` call may change.
MAX_NODES_PER_CALL: constant(uint256) = 32


@external
def set_node(node_id: bytes32, allowed: bool):
    """
    @notice Allows or disallows the node `node_id`.
    @dev Governed. Disallowing the last allowed node is refused: the
         network would have no node left to follow the chain.
    @param node_id keccak256 of the node's 64-byte public key; nonzero.
    @param allowed Whether it may connect.
    """
    governance._enforce_governance()
    self._set_node(node_id, allowed)


@external
def set_nodes(node_ids: DynArray[bytes32, MAX_NODES_PER_CALL], allowed: bool):
    """
    @notice Allows or disallows several nodes at once.
    @dev Governed. The first list a deployment sets must name every node
         that is to stay connected, in this one call: nodes switch from
         the genesis list to this contract at the block that holds it, so
         a list set one node per block would cut the others off in between.
    @param node_ids keccak256 of each node's 64-byte public key.
    @param allowed Whether they may connect.
    """
    governance._enforce_governance()
    for node_id: bytes32 in node_ids:
        self._set_node(node_id, allowed)


@internal
def _set_node(node_id: bytes32, allowed: bool):
    """
    @dev Records one change and logs NodeSet.
    @param node_id The node id hash; nonzero, state actually changing.
    @param allowed Whether it may connect.
    """
    assert node_id != empty(bytes32), "nodes: zero id"
    assert self.is_node_allowed[node_id] != allowed, "nodes: unchanged"
    if allowed:
        self.node_count += 1
    else:
        assert self.node_count > 1, "nodes: last node"
        self.node_count -= 1
    self.is_node_allowed[node_id] = allowed
    log NodeSet(node_id=node_id, allowed=allowed)
