"""The oracle daemon: makes Active Directory follow the chain's final decisions, and proves it on chain."""
