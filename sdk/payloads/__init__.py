"""Off-chain payloads: the hash-addressed store, sealed passwords and sealed justifications."""
