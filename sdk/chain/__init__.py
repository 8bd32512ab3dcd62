"""Talking to the chain: the typed client, events and models, transactions, deployment, Clique checks."""
