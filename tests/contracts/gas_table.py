"""Gas of the suite's transactions, measured on eth-tester from the shipped bytecode; prints a Markdown table.

Run: `python tests/contracts/gas_table.py`. Figures are whole-transaction `gasUsed` (intrinsic gas and refunds
included) for principal `alice` holding N live grants of a 2-of-3 group policy.
"""

from __future__ import annotations

from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak
from pamchain.contracts import compile_suite
from web3 import EthereumTesterProvider, Web3

HOUR = 3600
GRANT_COUNTS = (1, 4, 16)


def h(text: str) -> bytes:
    return keccak(text=text)


UNLOCK_TARGET, PASSWORD_RESET_TARGET = h("pamchain:unlock"), h("pamchain:password-reset")
DOMAIN, GROUP = h("domain:corp"), h("group:domain-admins")
NODE = h("node:site-a")


class Chain:
    """A bootstrapped deployment (Council, PamChain, PamNetwork and PamReviews bound to it) on a fresh eth-tester
    chain, with two access-review campaigns over alice, bob and carol (SUSPEND, then FLAG) due in a minute."""

    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        accounts = self.w3.eth.accounts
        self.deployer, self.council, self.oracle = accounts[0], accounts[1:4], accounts[4]
        self.alice, self.bob, self.carol = accounts[5:8]
        ids = [h("alice"), h("bob"), h("carol")]
        self.deploy_gas: dict[str, int] = {}
        self.governor = self._deploy("Council", list(self.council), 2, 86_400, 86_400)
        self.pam = self._deploy("PamChain", self.governor.address)
        self.network = self._deploy("PamNetwork", self.governor.address)
        self.reviews = self._deploy("PamReviews", self.governor.address, self.pam.address)
        self.set_suspender_gas = self.send("set_roles", self.reviews.address, 4, sender=self.deployer)
        self.set_node_gas = self.call(self.network, "set_node", NODE, True, sender=self.deployer)
        self.send("set_oracle", DOMAIN, self.oracle, h("x25519"), sender=self.deployer)
        for device, directory_id in zip((self.alice, self.bob, self.carol), ids, strict=True):
            self.send("enrol", device, directory_id, DOMAIN, sender=self.deployer)
        for target, limit in ((UNLOCK_TARGET, 1000), (PASSWORD_RESET_TARGET, 0)):
            self.send(
                "set_policy",
                *(target, DOMAIN, 1, 0, HOUR, False, True, 0, 0, ids[1:], [], 0, limit, limit),
                sender=self.deployer,
            )
        self.set_policy_gas = self.send(
            "set_policy",
            GROUP,
            DOMAIN,
            2,
            8 * HOUR,
            HOUR,
            False,
            True,
            1,
            HOUR,
            ids[1:],
            ids[:1],
            0,
            0,
            0,
            sender=self.deployer,
        )
        self.set_leaver_rule_gas = self.send("set_leaver_rule", DOMAIN, True, sender=self.deployer)
        due = int(self.w3.eth.get_block("latest")["timestamp"]) + 60
        self.open_gas = [
            self.call(self.reviews, "open_campaign", 1, ids, 1, on_lapse, due, h("q1"), sender=self.deployer)
            for on_lapse in (1, 2)
        ]
        self.call(self.governor, "end_bootstrap", sender=self.deployer)

    def after_review_deadline(self) -> None:
        self.tester.time_travel(int(self.w3.eth.get_block("latest")["timestamp"]) + 61)

    def _mine(self, tx_hash: Any) -> Any:
        return self.w3.eth.wait_for_transaction_receipt(tx_hash)

    def _deploy(self, name: str, *args: Any) -> Any:
        artifacts = compile_suite()[name]
        factory = self.w3.eth.contract(abi=artifacts["abi"], bytecode=artifacts["bytecode"])
        receipt = self._mine(factory.constructor(*args).transact({"from": self.deployer}))
        self.deploy_gas[name] = int(receipt["gasUsed"])
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifacts["abi"])

    def call(self, contract: Any, fn: str, *args: Any, sender: str) -> int:
        """Send `contract.fn(*args)`; return its gasUsed."""
        return int(self._mine(getattr(contract.functions, fn)(*args).transact({"from": sender}))["gasUsed"])

    def send(self, fn: str, *args: Any, sender: str) -> int:
        """Send PamChain's `fn(*args)`; return its gasUsed."""
        return self.call(self.pam, fn, *args, sender=sender)

    def request_count(self) -> int:
        return int(self.pam.functions.request_count().call())

    def grant(self) -> tuple[int, int]:
        """A live grant for alice; returns (request id, gas of the activating approval)."""
        self.send("request_elevation", GROUP, HOUR, h("why"), h("CHG-1"), False, sender=self.alice)
        request_id = self.request_count()
        self.send("approve", request_id, sender=self.bob)
        return request_id, self.send("approve", request_id, sender=self.carol)


def measure() -> dict[str, dict[int, int]]:
    """Rows of operation -> {N: gas}; N-independent rows are keyed 0."""
    rows: dict[str, dict[int, int]] = {}

    def put(name: str, n: int, gas: int) -> None:
        rows.setdefault(name, {})[n] = gas

    base = Chain()
    for name, gas in base.deploy_gas.items():
        put(f"deploy {name}", 0, gas)
    put("set_node (bootstrap)", 0, base.set_node_gas)
    put("set_roles (PamReviews SUSPENDER, bootstrap)", 0, base.set_suspender_gas)
    put("open_campaign (3 principals, bootstrap)", 0, base.open_gas[0])
    put("confirm (review item)", 0, base.call(base.reviews, "confirm", 1, 1, sender=base.bob))
    put("set_policy (2 approvers, bootstrap)", 0, base.set_policy_gas)
    put("set_leaver_rule (bootstrap)", 0, base.set_leaver_rule_gas)
    put("request_unlock", 0, base.send("request_unlock", sender=base.alice))
    put("approve (final: unlock APPROVED)", 0, base.send("approve", base.request_count(), sender=base.bob))
    put(
        "post_receipt (UNLOCK, APPLIED)",
        0,
        base.send("post_receipt", base.request_count(), 1, 1, h("d"), h("dc1"), sender=base.oracle),
    )
    put("request_password_reset", 0, base.send("request_password_reset", h("payload"), sender=base.alice))
    put(
        "request_elevation",
        0,
        base.send("request_elevation", GROUP, HOUR, h("w"), h("t"), False, sender=base.alice),
    )
    put("approve (not final)", 0, base.send("approve", base.request_count(), sender=base.bob))
    put(
        "request_elevation (break-glass, alarm)",
        0,
        base.send("request_elevation", GROUP, HOUR, h("w"), h("t"), True, sender=base.alice),
    )
    council = base.council
    data = base.governor.encode_abi("set_threshold", args=[3])
    put("propose", 0, base.call(base.governor, "propose", base.governor.address, data, sender=council[0]))
    put(
        "approve_proposal (executes set_threshold)",
        0,
        base.call(base.governor, "approve_proposal", 1, sender=council[1]),
    )
    data = base.network.encode_abi("set_node", args=[h("node:site-b"), True])
    base.call(base.governor, "propose", base.network.address, data, sender=council[0])
    put(
        "approve_proposal (executes PamNetwork set_node)",
        0,
        base.call(base.governor, "approve_proposal", 2, sender=council[1]),
    )

    for n in GRANT_COUNTS:
        chain = Chain()
        ids = [chain.grant()[0] for _ in range(n - 1)]
        last, gas = chain.grant()
        ids.append(last)
        put("approve (final: grant ACTIVE, N-th live grant)", n, gas)
        put(
            "post_receipt (ADD_MEMBER)",
            n,
            chain.send("post_receipt", last, 2, 1, h("d"), h("dc1"), sender=chain.oracle),
        )
        put("revoke (first of N live grants)", n, chain.send("revoke", ids[0], sender=chain.alice))
        ids[0], _ = chain.grant()
        chain.after_review_deadline()
        put("lapse (FLAG: alarm)", n, chain.call(chain.reviews, "lapse", 2, 0, sender=chain.bob))
        put(
            "lapse (SUSPEND: ends N live grants)",
            n,
            chain.call(chain.reviews, "lapse", 1, 0, sender=chain.bob),
        )
        put(
            "close (2 items left: suspend, suspend)",
            n,
            chain.call(chain.reviews, "close", 1, sender=chain.bob),
        )
        chain = Chain()
        ids = [chain.grant()[0] for _ in range(n)]
        put("suspend (ends N live grants)", n, chain.send("suspend", h("alice"), sender=chain.council[0]))
        leaver = Chain()
        for _ in range(n):
            leaver.grant()
        put(
            "report_leaver (rule on: suspends, ends N live grants)",
            n,
            leaver.send("report_leaver", h("alice"), 1, h("dc1"), sender=leaver.oracle),
        )
        put(
            "report_leaver (already suspended: nothing)",
            n,
            leaver.send("report_leaver", h("alice"), 1, h("dc1"), sender=leaver.oracle),
        )
    return rows


def table(rows: dict[str, dict[int, int]]) -> str:
    """Two Markdown tables: operations whose cost does not depend on N, then those that do."""
    flat = ["| operation | gas |", "|---|---:|"]
    scaled = ["| operation | " + " | ".join(f"N = {n}" for n in GRANT_COUNTS) + " |"]
    scaled.append("|---|" + "---:|" * len(GRANT_COUNTS))
    for name, by_n in rows.items():
        if 0 in by_n:
            flat.append(f"| {name} | {by_n[0]:,} |")
        else:
            scaled.append(f"| {name} | " + " | ".join(f"{by_n[n]:,}" for n in GRANT_COUNTS) + " |")
    return "\n".join(flat) + "\n\n" + "\n".join(scaled)


if __name__ == "__main__":
    print(table(measure()))
