"""P2/P3: unlock end to end and expiry precision on a real Samba AD DC, pamchain's node vs anvil, one run.

    .venv/bin/python -m bench.oracle_latency [--quick] [--iterations N] [--json bench/results/oracle.json]

Unlock end to end: request sent → ``lockoutTime`` 0 on the DC → receipt mined, for pamchain's node as its own
process sealing on demand (Clique period 0) and with 1 s blocks, and anvil (automine) as the peer, each with
the same oracle (ticking on the node's newHeads subscription; polling every 50 ms as the fallback). Each unlock
starts on an idle chain, at a random moment of a second; ``unlock_back_to_back`` sends the next as soon as
the previous receipt is seen. pamchain on demand and anvil run side by side, their unlocks interleaved (one
each in turn), so that the machine's changes of speed, which on a shared VM move a run by a third, fall on
both: their ratio is the figure. Expiry precision: grant expiry (chain time) → member gone from the group, with
the node up and with the node stopped just after the grant was applied.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_utils import keccak
from pamchain.devnet import samba_dc
from pamchain.node.genesis import deployment_genesis
from pamchain.sdk.chain.client import connect
from pamchain.sdk.chain.deployer import deploy_plan
from pamchain.sdk.chain.model import Action
from pamchain.sdk.directory import AccountRef, AuthenticationFailed, GroupRef, StaticIdMap
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory
from pamchain.sdk.oracle.assembly import assemble
from pamchain.sdk.oracle.executor import Retry
from pamchain.sdk.oracle.follower import Finality
from pamchain.sdk.oracle.heads import ws_url_for

from support.chains import ChainEnv, anvil, test_accounts
from support.node_process import NodeProcess, init_node
from support.world import ADMINS, DOMAIN, directory_id, standard_plan

PASSWORD = "Bench-Password-Lamp-81!"
POLL = 0.05
T = TypeVar("T")
# Before each interleaved unlock: the previous one's tail (its oracle reading the receipt's block, the node's
# work after it) is over, so it does not run beside the next unlock on the other backend.
SETTLE = 0.1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(1000 * statistics.median(values), 1),
        "p99_ms": round(1000 * percentile(values, 0.99), 1),
        "min_ms": round(1000 * min(values), 1),
        "max_ms": round(1000 * max(values), 1),
    }


@contextlib.contextmanager
def samba(tmp: Path) -> Iterator[tuple[LdapConfig, LdapDirectory, LdapDirectory]]:
    dc = samba_dc.provision(tmp / "dc", ip=samba_dc.free_loopback_ip())
    samba_dc.start(dc, maximum_runtime=3600)
    config = samba_dc.admin_ldap_config(dc, tmp / "bind.pass")
    oracle_side, observer = (
        LdapDirectory(config),
        LdapDirectory(config),
    )  # observing must not queue behind the oracle
    try:
        yield config, oracle_side, observer
    finally:
        oracle_side.close()
        observer.close()
        samba_dc.stop(dc)


@contextlib.contextmanager
def pamchain_process(tmp: Path, *, period: int = 0) -> Iterator[tuple[ChainEnv, NodeProcess]]:
    """pamchain's node as its own process, as anvil is (nothing shares its interpreter): Clique period 0
    sealing on demand, or ``period``-second blocks; the handle stops it (expiry with the node down)."""
    accounts = test_accounts()
    signer = Account.from_key(keccak(text="pamchain-test-signer"))
    genesis = deployment_genesis(
        [signer.address], 1337, {a.address: 10**24 for a in accounts.values()}, accounts["deployer"].address,
        period=period,
    )  # fmt: skip
    args = ["--seal-on-demand"] if period == 0 else ["--period", str(period)]
    node = NodeProcess(init_node(tmp, genesis, signer.key), args, log=tmp / "node.log")
    node.start()
    try:
        yield ChainEnv("pamchain", node.url, connect(node.url), accounts, Finality()), node
    finally:
        node.stop()


def wait_for_receipt(client: Any, request_id: int) -> None:
    """Return once the oracle's UNLOCK receipt for ``request_id`` is in a block, looking for it once per new
    block. (Looking every 5 ms, as this did, ran an ``eth_call`` of the contract every 5 ms on the node under
    test: a load anvil's native EVM shrugs off and pamchain's py-evm pays for in the very blocks being timed.
    A block number is read without executing anything.)"""
    seen = -1
    while True:
        number = client.w3.eth.block_number
        if number != seen:
            seen = number
            if client.receipt(request_id, Action.UNLOCK) is not None:
                return
        time.sleep(0.002)


def wait_for_idle_chain(w3: Any, period: int, timeout: float = 30.0) -> None:
    """Let the chain go idle before an unlock, as an employee's unlock arrives on an idle chain: its time back
    at the wall clock and, with ``period``-second blocks, the period since the head over (the next block may
    be sealed at once). ``unlock_back_to_back`` measures the other case."""
    deadline = time.monotonic() + timeout
    head, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        latest = w3.eth.get_block("latest")
        wait = int(latest["timestamp"]) + period - time.time()
        if int(latest["number"]) != head:
            head, changed = int(latest["number"]), time.monotonic()
        # With several validators the chain is not idle while its last transactions (the previous unlock's
        # receipt) are not final: the signers still seal the blocks that carry the finality votes, and a
        # request sent meanwhile waits a period behind them. They stop once those are final (the head itself
        # may stay unfinalized: its finalizing votes would come in later blocks), so idle is a head that has
        # not moved for one and a half periods.
        settling = period > 0 and time.monotonic() - changed < 1.5 * period
        if wait <= 0 and not settling:
            break
        time.sleep(min(wait, 0.05) if wait > 0 else 0.05)
    if period:
        # Requests come at any moment of a second, not just after the one the chain went idle in (that
        # phase would put every receipt a whole period after its request).
        time.sleep(random.uniform(0, period))


@dataclass
class Rig:
    """One backend ready to unlock alice: its suite deployed, its users on the DC, its own oracle running."""

    client: Any
    alice_client: Any
    observer: LdapDirectory
    alice: AccountRef
    users: dict[str, Any]
    group: Any
    period: int

    def lock_out(self) -> None:
        for _ in range(3):
            with contextlib.suppress(AuthenticationFailed):
                self.observer.authenticate(self.alice, "wrong")
        assert self.observer.is_locked(self.alice)

    def unlock(self) -> tuple[float, float, float]:
        """One unlock on an idle chain: (request sent, AD unlocked, receipt seen), perf_counter seconds."""
        self.lock_out()
        wait_for_idle_chain(self.client.w3, self.period)
        t0 = time.perf_counter()
        rid = self.alice_client.request_unlock()
        while self.observer.is_locked(self.alice):
            time.sleep(0.002)
        t1 = time.perf_counter()
        wait_for_receipt(self.client, rid)
        return t0, t1, time.perf_counter()

    def next_unlock(self) -> float:
        """Request -> receipt of one unlock sent at once (no wait for an idle chain): back to back."""
        t0 = time.perf_counter()
        rid = self.alice_client.request_unlock()
        wait_for_receipt(self.client, rid)
        return time.perf_counter() - t0

    def expiry(self, env: Any, iterations: int, stop_node: Any = None) -> dict[str, float]:
        """``expiry_precision`` of bob's grants on this rig."""
        bob = AccountRef(self.users["bob"].sam_account_name)
        return expiry_precision(self.client, env, self.observer, self.group.ref, bob, iterations, stop_node)


@contextlib.contextmanager
def rig(
    name: str,
    env: Any,
    oracle_dir: LdapDirectory,
    observer: LdapDirectory,
    tmp: Path,
    *,
    heads: bool = True,
    period: int = 0,
) -> Iterator[Rig]:
    """Deploy the suite on ``env``, make alice, bob, carol and the admins group on the DC, and run an oracle
    for them (on the node's newHeads subscription when ``heads``, else polling every ``POLL``)."""
    client, deployment = deploy_plan(env.w3, env.accounts["deployer"], standard_plan(env.accounts))
    tag = f"b{int(time.time() * 1000) % 10**8}"
    users = {n: observer.create_user(f"{tag}{n[:3]}", PASSWORD) for n in ("alice", "bob", "carol")}
    group = observer.create_group(f"{tag}adm")
    id_map = StaticIdMap.from_hex(
        {"0x" + directory_id(n).hex(): u.sam_account_name for n, u in users.items()},
        {"0x" + ADMINS.hex(): group.dn},
    )
    daemon = assemble(
        client.as_account(env.accounts["oracle"]),
        env.accounts["oracle"],
        oracle_dir,
        tmp / f"{name}.sqlite3",
        domain=DOMAIN,
        dc_id=b"DC1".ljust(32, b"\0"),
        id_map=id_map,
        start_block=deployment.block,
        finality=env.finality,
        retry=Retry(max_attempts=3, base=0.05, cap=0.2),
        poll_interval=POLL,
        reconcile_interval=10**9,
        heads_url=ws_url_for(env.url) if heads else None,
    )
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        yield Rig(
            client,
            client.as_account(env.accounts["alice"]),
            observer,
            AccountRef(users["alice"].sam_account_name),
            users,
            group,
            period,
        )
    finally:
        daemon.stop()
        thread.join(10)


def run_backend(
    name: str,
    env: Any,
    oracle_dir: LdapDirectory,
    observer: LdapDirectory,
    iterations: int,
    tmp: Path,
    node: Any = None,
    *,
    heads: bool = True,
    expiries: bool = True,
    marks: list[tuple[float, float, float]] | None = None,
    period: int = 0,
) -> dict[str, Any]:
    """``heads``: the oracle follows the node's newHeads subscription (else it polls every ``POLL``);
    ``marks`` collects (request sent, AD unlocked, receipt seen) per unlock, perf_counter seconds;
    ``period``: the chain's block period (0: on demand), for waiting until it is idle."""
    with rig(name, env, oracle_dir, observer, tmp, heads=heads, period=period) as r:
        unlocks = [r.unlock() for _ in range(iterations)]
        if marks is not None:
            marks.extend(unlocks)
        r.lock_out()
        result = unlock_results(unlocks, [r.next_unlock() for _ in range(iterations)])
        if not expiries:
            return result
        result["expiry"] = r.expiry(env, max(2, iterations // 2))
        if node is not None:
            result["expiry_node_stopped"] = r.expiry(env, 1, stop_node=node)
        return result


def unlock_results(unlocks: list[tuple[float, float, float]], back_to_back: list[float]) -> dict[str, Any]:
    """The unlock figures from (request sent, AD unlocked, receipt seen) marks and back-to-back spans: request
    to AD, request to receipt, and back to back (a help desk clearing a queue: each unlock sent as soon as the
    previous receipt is seen, no wait for the chain to go idle)."""
    return {
        "unlock_to_ad": summary([t1 - t0 for t0, t1, _ in unlocks]),
        "unlock_to_receipt": summary([t2 - t0 for t0, _, t2 in unlocks]),
        "unlock_back_to_back": summary(back_to_back),
    }


def run_interleaved(rigs: dict[str, Rig], iterations: int) -> dict[str, dict[str, Any]]:
    """The same unlocks as ``run_backend`` on every rig, one rig after the other within each iteration (the
    order turning each time, ``SETTLE`` apart), so that a change in the machine's speed falls on all of them
    alike."""
    names = list(rigs)

    def in_turn(step: Callable[[Rig], T]) -> dict[str, list[T]]:
        done: dict[str, list[T]] = {n: [] for n in names}
        for i in range(iterations):
            for n in names[i % len(names) :] + names[: i % len(names)]:
                time.sleep(SETTLE)
                done[n].append(step(rigs[n]))
        return done

    marks = in_turn(Rig.unlock)
    for r in rigs.values():
        r.lock_out()
    spans = in_turn(Rig.next_unlock)
    return {n: unlock_results(marks[n], spans[n]) for n in names}


def on_demand_against_anvil(
    tmp: Path, oracle_dir: LdapDirectory, observer: LdapDirectory, iterations: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """pamchain's node sealing on demand and anvil automine, both up at once, their unlocks interleaved
    (``run_interleaved``); then each one's expiry precision. Returns (pamchain's, anvil's) results."""
    with (
        pamchain_process(tmp / "ondemand") as (pam_env, _),
        anvil(tmp / "anvil") as anvil_env,
        rig("ondemand", pam_env, oracle_dir, observer, tmp) as pam,
        rig("anvil", anvil_env, oracle_dir, observer, tmp) as peer,
    ):
        results = run_interleaved({"pamchain": pam, "anvil": peer}, iterations)
        for name, env, r in (("pamchain", pam_env, pam), ("anvil", anvil_env, peer)):
            results[name]["expiry"] = r.expiry(env, max(2, iterations // 2))
    return results["pamchain"], results["anvil"]


def expiry_precision(
    client: Any,
    env: Any,
    observer: LdapDirectory,
    group: GroupRef,
    bob: AccountRef,
    iterations: int,
    stop_node: Any,
) -> dict[str, float]:
    """Seconds from the grant's expiry (chain time) to the member being gone from the group."""
    bob_client = client.as_account(env.accounts["bob"])
    carol_client = client.as_account(env.accounts["carol"])
    lags = []
    for _ in range(iterations):
        rid = bob_client.request_elevation(ADMINS, 2, break_glass=True)
        carol_client.approve(rid)  # break-glass always involves a second person
        expiry = client.request(rid).expiry
        while not observer.is_member(group, bob):
            time.sleep(0.005)
        if stop_node is not None:
            stop_node.stop()
        while observer.is_member(group, bob):
            time.sleep(0.002)
        lags.append(time.time() - expiry)
    return summary(lags)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 iterations: proves the benchmark runs (CI)")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--json", type=Path, default=Path("bench/results/oracle_latency.json"))
    args = parser.parse_args()
    logging.getLogger("pamchain").addHandler(logging.NullHandler())  # the daemon's warnings are expected here
    logging.getLogger("pamchain").propagate = False
    iterations = 3 if args.quick else args.iterations
    results: dict[str, Any] = {"iterations": iterations, "oracle_poll_interval_s": POLL}
    with tempfile.TemporaryDirectory(prefix="pamchain-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with samba(tmp) as (_, oracle_dir, observer):
            results["pamchain_on_demand"], results["anvil_automine"] = on_demand_against_anvil(
                tmp, oracle_dir, observer, iterations
            )
            with pamchain_process(tmp / "period", period=1) as (env, _):
                results["pamchain_1s_blocks"] = run_backend(
                    "period", env, oracle_dir, observer, iterations, tmp, period=1
                )
            with pamchain_process(tmp / "stopped") as (env, handle):
                results["pamchain_node_stopped"] = run_backend(
                    "stopped", env, oracle_dir, observer, 1, tmp, node=handle
                )
    for key in ("pamchain_on_demand", "pamchain_1s_blocks"):
        for metric in ("unlock_to_ad", "unlock_to_receipt", "unlock_back_to_back"):
            results[key][f"{metric}_p50_vs_anvil"] = round(
                results[key][metric]["p50_ms"] / results["anvil_automine"][metric]["p50_ms"], 2
            )
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {args.json}")


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{'backend':<24}{'metric':<22}{'p50 ms':>9}{'p99 ms':>9}{'min':>8}{'max':>8}{'n':>4}")
    for backend, metrics in results.items():
        if not isinstance(metrics, dict):
            continue
        for metric, s in metrics.items():
            if isinstance(s, dict):
                print(
                    f"{backend:<24}{metric:<22}{s['p50_ms']:>9}{s['p99_ms']:>9}{s['min_ms']:>8}{s['max_ms']:>8}{s['n']:>4}"
                )
            else:
                print(f"{backend:<24}{metric:<22}{s:>9}")


if __name__ == "__main__":
    main()
