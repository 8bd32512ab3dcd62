"""``python -m bench``: the one benchmark command (see bench/run.py)."""

from bench.run import main

main()
