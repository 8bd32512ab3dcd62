"""What the tests and the benchmarks both run: pamchain node processes and clusters, anvil, the chain
backends and the standard test world. Not shipped; it imports the product, never ``tests`` or ``bench``."""
