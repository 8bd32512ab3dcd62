"""Peer-to-peer layer: authenticated, encrypted, allowlisted links between pamchain nodes (see docs/network.md)."""

from .identity import Enode, NodeKey, load_or_create_node_key

__all__ = ["Enode", "NodeKey", "load_or_create_node_key"]
