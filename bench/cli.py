"""CLI: wall time of read-only ``pamchain`` commands against a running node (median over N runs each).

    .venv/bin/python -m bench.cli [--runs N] [--json PATH] [--command "python -m ..."]

Starts a node on a free port, deploys the suite with the devnet's plan, records an unlock and an approved
elevation, then runs each command as a fresh process (as a user does), N times. ``--command`` measures another
``pamchain`` (an older checkout, say) against the same chain.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PASSPHRASE = "bench cli quiet orange lantern"
ADMINS_DN = "CN=Domain Admins,CN=Users,DC=corp,DC=example"


@contextmanager
def chain(root: Path) -> Iterator[dict[str, Any]]:
    """A node with the suite deployed and a little history; yields the environment and ids commands need."""
    from eth_account import Account
    from eth_utils import keccak
    from pamchain.devnet.world import COUNCIL, PEOPLE, demo_plan
    from pamchain.node import deployment_genesis, run_node
    from pamchain.sdk.client import connect
    from pamchain.sdk.deployer import deploy_plan
    from pamchain.sdk.keys import create_keystore
    from pamchain.sdk.model import ticket_ref

    names = ["deployer", *COUNCIL, "oracle", *PEOPLE]
    accounts = {n: Account.from_key(keccak(text=f"pamchain-bench-cli-{n}")) for n in names}
    signer = Account.from_key(keccak(text="pamchain-bench-cli-signer"))
    genesis = deployment_genesis(
        [signer.address], 1337, {a.address: 10**24 for a in accounts.values()}, accounts["deployer"].address
    )
    with run_node(genesis, signer.key, root / "node") as node:
        ids = {n: keccak(text=f"directory-id-{n}") for n in PEOPLE}
        admins = keccak(text=ADMINS_DN)
        client, deployment = deploy_plan(
            connect(node.url), accounts["deployer"], demo_plan(accounts, ids, admins)
        )
        deployment.save(root / "deployment.json")
        alice = client.as_account(accounts["alice"])
        alice.request_unlock()
        request_id = alice.request_elevation(admins, 3600, "bench", ticket_ref("CHG-1"))
        client.as_account(accounts["bob"]).approve(request_id)
        client.as_account(accounts["carol"]).approve(request_id)
        create_keystore(root / "keys", PASSPHRASE, private_key=bytes(accounts["alice"].key), iterations=2)
        yield {
            "env": {"PAMCHAIN_RPC_URL": node.url, "PAMCHAIN_DEPLOYMENT": str(root / "deployment.json")},
            "request_id": request_id,
            "subject": "0x" + ids["alice"].hex(),
            "target": "0x" + admins.hex(),
            "keys": str(root / "keys"),
        }


def commands(ctx: dict[str, Any]) -> dict[str, list[str]]:
    """The read-only commands measured, by label."""
    return {
        "--help": ["--help"],
        "keys list": ["keys", "list", "--keystore", ctx["keys"]],
        "grants": ["grants"],
        "grants --active": ["grants", "--active", "--subject", ctx["subject"]],
        "receipts": ["receipts"],
        "request show": ["request", "show", str(ctx["request_id"])],
        "request list": ["request", "list"],
        "policy show": ["policy", "show", ctx["target"]],
        "principal show": ["principal", "show", ctx["subject"]],
        "council list": ["council", "list"],
        "audit export": ["audit", "export", "--format", "json"],
    }


def measure(command: list[str], ctx: dict[str, Any], runs: int) -> dict[str, Any]:
    """Each read-only command ``runs`` times as a new process: median/min/max wall ms and median CPU ms."""
    env = {**os.environ, **ctx["env"]}
    out: dict[str, Any] = {}
    for label, args in commands(ctx).items():
        wall, cpu = [], []
        for _ in range(runs):
            before = os.times()
            t0 = time.perf_counter()
            done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=120)
            wall.append((time.perf_counter() - t0) * 1000)
            after = os.times()
            cpu.append(
                (after.children_user - before.children_user + after.children_system - before.children_system)
                * 1000
            )
            if done.returncode != 0:
                out[label] = {"failed": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
                break
        else:
            out[label] = {
                "median_ms": round(statistics.median(wall)),
                "min_ms": round(min(wall)),
                "max_ms": round(max(wall)),
                "cpu_median_ms": round(statistics.median(cpu)),
            }
    return out


def print_table(results: dict[str, Any], out: Any = sys.stdout) -> None:
    """A Markdown table like the other sections': median [min-max] wall ms and median CPU ms per command."""
    print(
        f"\nCLI read-only commands, {results['runs']} runs each ({results['command']}); "
        f"load average {results['load']}",
        file=out,
    )
    print("| command | wall ms, median [min-max] | CPU ms, median |\n|---|---:|---:|", file=out)
    for label, figure in results["figures"].items():
        if "failed" in figure:
            print(f"| `{label}` | failed: {figure['failed']} | |", file=out)
        else:
            wall = f"{figure['median_ms']} [{figure['min_ms']}-{figure['max_ms']}]"
            print(f"| `{label}` | {wall} | {figure['cpu_median_ms']} |", file=out)


def run(runs: int, tmp: Path, command: list[str] | None = None) -> dict[str, Any]:
    command = command or [str(Path(sys.executable).with_name("pamchain"))]
    with chain(tmp) as ctx:
        load = os.getloadavg()[0]
        figures = measure(command, ctx, runs)
    return {"runs": runs, "command": shlex.join(command), "load": round(load, 2), "figures": figures}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--command", default=None, help="the pamchain command to measure (default: this venv's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pamchain-bench-cli-") as tmp:
        results = run(args.runs, Path(tmp), shlex.split(args.command) if args.command else None)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
