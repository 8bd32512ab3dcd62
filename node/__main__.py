"""``python -m pamchain.node ...``: the same commands as ``pamchain node ...`` (defined in ``node/cli.py``)."""

from .cli import node

if __name__ == "__main__":
    node(prog_name="python -m pamchain.node")
