"""CLI: wall time of read-only ``pamchain`` commands against a running node (p50/p95 over N runs each).

    .venv/bin/python -m bench.cli [--runs N] [--json PATH] [--command "..."] [--baseline "..."]

Starts a node on a free port, deploys the suite with the devnet's plan, records an unlock and an approved
elevation, then runs each command as a fresh process (as a user does), N times, interleaving the commands
compared so that a change in the machine's load hits them alike. ``--command`` measures another ``pamchain``;
``--baseline`` measures a second one beside it (an older checkout: ``/work/main/.venv/bin/pamchain``, say).
When foundry's ``cast`` is on the PATH, ``cast call`` of one view function is measured too: the floor a
compiled client sets for one read.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
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
    from pamchain.sdk.chain.client import connect
    from pamchain.sdk.chain.deployer import deploy_plan
    from pamchain.sdk.chain.model import ticket_ref
    from pamchain.sdk.keys import create_keystore

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
        "review list": ["review", "list"],
        "policy leavers": ["policy", "leavers", "--domain", "corp.example"],
        "audit export": ["audit", "export", "--format", "json"],
    }


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 20 runs is the 19th slowest): no interpolation between runs."""
    ordered = sorted(values)
    rank = -int(-len(ordered) * q // 100)  # ceil(n * q / 100)
    return ordered[max(0, min(len(ordered) - 1, rank - 1))]


def _once(argv: list[str], env: dict[str, str]) -> tuple[float, float, str | None]:
    """One run: wall ms, CPU ms of the child, and the failure (last stderr line) if it failed."""
    before = os.times()
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    wall = (time.perf_counter() - t0) * 1000
    after = os.times()
    cpu = (after.children_user - before.children_user + after.children_system - before.children_system) * 1000
    failure = None
    if done.returncode != 0:
        failure = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    return wall, cpu, failure


def _figure(wall: list[float], cpu: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(wall)),
        "p95_ms": round(_percentile(wall, 95)),
        "min_ms": round(min(wall)),
        "max_ms": round(max(wall)),
        "cpu_p50_ms": round(statistics.median(cpu)),
    }


def measure(commands_: dict[str, list[str]], ctx: dict[str, Any], runs: int) -> dict[str, dict[str, Any]]:
    """Every read-only command under every measured ``pamchain`` (label -> argv prefix), ``runs`` times each
    as a new process, round-robin; figures by command label, then by ``pamchain`` label."""
    env = {**os.environ, **ctx["env"]}
    samples: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    failed: dict[tuple[str, str], str] = {}
    for _ in range(runs):
        for label, args in commands(ctx).items():
            for who, argv in commands_.items():
                if (label, who) in failed:
                    continue
                wall, cpu, failure = _once([*argv, *args], env)
                if failure is not None:
                    failed[(label, who)] = failure
                    continue
                walls, cpus = samples.setdefault((label, who), ([], []))
                walls.append(wall)
                cpus.append(cpu)
    out: dict[str, dict[str, Any]] = {}
    for label in commands(ctx):
        for who in commands_:
            key = (label, who)
            out.setdefault(label, {})[who] = (
                {"failed": [failed[key]]} if key in failed else _figure(*samples[key])
            )
    return out


def measure_cast(ctx: dict[str, Any], runs: int) -> dict[str, Any] | None:
    """``cast call <PamChain> request_count()``, when foundry's cast is installed: one read, no Python."""
    cast = shutil.which("cast")
    if cast is None:
        return None
    deployment = json.loads(Path(ctx["env"]["PAMCHAIN_DEPLOYMENT"]).read_text())
    argv = [
        cast,
        "call",
        deployment["contracts"]["PamChain"]["address"],
        "request_count()(uint256)",
        "--rpc-url",
        ctx["env"]["PAMCHAIN_RPC_URL"],
    ]
    wall, cpu = [], []
    for _ in range(runs):
        w, c, failure = _once(argv, dict(os.environ))
        if failure is not None:
            return {"failed": [failure]}
        wall.append(w)
        cpu.append(c)
    return _figure(wall, cpu)


def print_table(results: dict[str, Any], out: Any = sys.stdout) -> None:
    """A Markdown table: p50 / p95 [min-max] wall ms and p50 CPU ms per command and measured ``pamchain``."""
    whos = list(results["commands"])
    print(
        f"\nCLI read-only commands, {results['runs']} runs each; load average {results['load']} before, "
        f"{results.get('load_after', '?')} after",
        file=out,
    )
    for who, command in results["commands"].items():
        print(f"- {who}: `{command}`", file=out)
    header = " | ".join(f"{who}: wall p50 / p95 [min-max] ms | {who}: CPU p50 ms" for who in whos)
    print(f"\n| command | {header} |\n|---|" + "---:|---:|" * len(whos), file=out)
    for label, by_who in results["figures"].items():
        cells = []
        for who in whos:
            figure = by_who[who]
            if "failed" in figure:
                cells += [f"failed: {figure['failed']}", ""]
            else:
                cells += [
                    f"{figure['p50_ms']} / {figure['p95_ms']} [{figure['min_ms']}-{figure['max_ms']}]",
                    str(figure["cpu_p50_ms"]),
                ]
        print(f"| `{label}` | " + " | ".join(cells) + " |", file=out)
    cast = results.get("cast")
    if cast is None:
        print("\n`cast call` (foundry): not installed here, not measured.", file=out)
    elif "failed" in cast:
        print(f"\n`cast call`: failed: {cast['failed']}", file=out)
    else:
        print(
            f"\n`cast call <PamChain> request_count()` (foundry): wall p50 / p95 {cast['p50_ms']} / "
            f"{cast['p95_ms']} ms, CPU p50 {cast['cpu_p50_ms']} ms",
            file=out,
        )


def run(
    runs: int, tmp: Path, command: list[str] | None = None, baseline: list[str] | None = None
) -> dict[str, Any]:
    measured = {"this": command or [str(Path(sys.executable).with_name("pamchain"))]}
    if baseline:
        measured["baseline"] = baseline
    with chain(tmp) as ctx:
        load = os.getloadavg()[0]
        figures = measure(measured, ctx, runs)
        cast = measure_cast(ctx, runs)
        load_after = os.getloadavg()[0]
    return {
        "runs": runs,
        "commands": {who: shlex.join(argv) for who, argv in measured.items()},
        "load": round(load, 2),
        "load_after": round(load_after, 2),
        "figures": figures,
        "cast": cast,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--command", default=None, help="the pamchain command to measure (default: this venv's)"
    )
    parser.add_argument(
        "--baseline", default=None, help="a second pamchain command measured beside it (an older checkout)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pamchain-bench-cli-") as tmp:
        results = run(
            args.runs,
            Path(tmp),
            shlex.split(args.command) if args.command else None,
            shlex.split(args.baseline) if args.baseline else None,
        )
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
