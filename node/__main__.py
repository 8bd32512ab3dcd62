"""``python -m pamchain.node ...``: the same commands as ``pamchain node ...``.

The click definitions live with the rest of the CLI in ``pamchain.scripts``; this entry point only borrows
them (an entry point, not a layer: nothing in the node imports the CLI).
"""

from pamchain.scripts.cli import PamchainGroup
from pamchain.scripts.node_commands import node

if __name__ == "__main__":
    main = PamchainGroup(name="node", commands=node.commands, help=node.help)
    main(prog_name="python -m pamchain.node")
