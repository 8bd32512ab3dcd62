"""Shared vocabulary of the contract tests: constants, named accounts, event helpers and flow short hands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import boa
from eth_utils import keccak

HOUR = 3600
DAY = 24 * HOUR
MAX_PENDING = HOUR
GROUP_MAX = 8 * HOUR
BREAK_GLASS_MAX = HOUR
BREAK_GLASS_COOLDOWN = 4 * HOUR
UNLOCK_LIMIT = 3
UNLOCK_WINDOW = DAY
BOOTSTRAP_TTL = DAY

# The suite's constants (docs/contracts.md lists them all).
UNLOCK, ELEVATE, PASSWORD_RESET = 1, 2, 3
NONE, PENDING, APPROVED, DENIED, CANCELLED, EXPIRED, ACTIVE, ENDED, FULFILLED, FAILED = range(10)
END_EXPIRED, END_REVOKED, END_SUSPENDED = 1, 2, 3
A_UNLOCK, A_ADD_MEMBER, A_REMOVE_MEMBER, A_RESET_PASSWORD = 1, 2, 3, 4
APPLIED, OUTCOME_FAILED = 1, 2
ALARM_BREAK_GLASS, ALARM_DRIFT, ALARM_UNLOCK_LIMIT, ALARM_REMOVAL_LATE, ALARM_LEAVER, ALARM_REVIEW_LAPSED = (
    1,
    2,
    3,
    4,
    5,
    6,
)
P_NONE, P_ACTIVE, P_SUSPENDED = 0, 1, 2
ORACLE_ROLE, OPERATOR_ROLE, SUSPENDER_ROLE = 1, 2, 4
# PamReviews' constants: scopes, reviewer modes, lapse actions, item statuses.
SCOPE_PRINCIPALS, SCOPE_REQUESTERS, SCOPE_APPROVERS = 1, 2, 3
REVIEWER_SELF, REVIEWER_APPROVERS = 1, 2
LAPSE_SUSPEND, LAPSE_FLAG = 1, 2
ITEM_PENDING, ITEM_CONFIRMED, ITEM_LAPSED = 1, 2, 3
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def h(text: str) -> bytes:
    """A bytes32 id derived from a label (directory ids, domains, groups, hashes)."""
    return keccak(text=text)


UNLOCK_TARGET = keccak(text="pamchain:unlock")
PASSWORD_RESET_TARGET = keccak(text="pamchain:password-reset")
DOMAIN = h("domain:corp")
OTHER_DOMAIN = h("domain:lab")
GROUP = h("group:domain-admins")
SELF_GROUP = h("group:helpdesk")
OTHER_GROUP = h("group:lab-admins")
DISABLED_GROUP = h("group:schema-admins")
ENC_KEY = h("x25519:corp")
OTHER_ENC_KEY = h("x25519:lab")
# The one node the bootstrapped PamNetwork allows (a node id is keccak256 of the node's public key).
NODE = h("node:site-a")
PEOPLE = ("alice", "bob", "carol", "erin", "dave")  # dave lives in OTHER_DOMAIN; bob, carol, erin approve
APPROVERS = ("bob", "carol", "erin")
# Who may request GROUP and SELF_GROUP (gina and hank are enrolled only by the state machine).
REQUESTERS = ("alice", "bob", "carol", "erin", "gina", "hank")


@dataclass(frozen=True)
class World:
    """The accounts, ids and default policies of the bootstrapped test deployment."""

    deployer: str
    council: tuple[str, str, str]
    oracle: str
    other_oracle: str
    operator: str
    stranger: str
    devices: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def id(name: str) -> bytes:
        """The directory id of a test principal."""
        return h(f"principal:{name}")

    @staticmethod
    def policies() -> list[tuple[Any, ...]]:
        """set_policy argument tuples of the default policies."""
        corp_approvers = [World.id(n) for n in APPROVERS]
        corp = [World.id(n) for n in REQUESTERS]
        unlock_limit = (UNLOCK_LIMIT, UNLOCK_WINDOW)
        return [
            (
                UNLOCK_TARGET,
                DOMAIN,
                1,
                0,
                MAX_PENDING,
                False,
                True,
                0,
                0,
                corp_approvers,
                [],
                0,
                *unlock_limit,
            ),
            (
                PASSWORD_RESET_TARGET,
                DOMAIN,
                1,
                0,
                MAX_PENDING,
                False,
                True,
                0,
                0,
                corp_approvers,
                [],
                0,
                0,
                0,
            ),
            (
                *(GROUP, DOMAIN, 2, GROUP_MAX, MAX_PENDING, False, True, 1, BREAK_GLASS_MAX, corp_approvers),
                *(corp, BREAK_GLASS_COOLDOWN, 0, 0),
            ),
            (SELF_GROUP, DOMAIN, 0, HOUR, MAX_PENDING, True, True, 0, 0, [World.id("bob")], corp, 0, 0, 0),
            (
                *(OTHER_GROUP, OTHER_DOMAIN, 1, HOUR, MAX_PENDING, False, True, 0, 0, [World.id("dave")]),
                *([World.id("dave")], 0, 0, 0),
            ),
            (DISABLED_GROUP, DOMAIN, 1, HOUR, MAX_PENDING, False, False, 0, 0, corp_approvers, corp, 0, 0, 0),
        ]


@dataclass(frozen=True)
class Suite:
    """The three contracts of a deployment: the council and the two contracts it governs."""

    council: Any
    pam: Any
    network: Any


class Call(NamedTuple):
    """What a proposal carries: the contract it calls and the calldata."""

    target: str
    data: bytes


def events(contract: Any, name: str, by: Any = None) -> list[Any]:
    """The decoded events called `name` in the contract's last call (calls it made included).

    `by` keeps only those logged by that contract: an executed proposal is the council's call, and the
    events of the governed contract are logged inside it.
    """
    return [
        e
        for e in contract.get_logs()
        if type(e).__name__ == name and (by is None or str(e.address) == str(by.address))
    ]


def one_event(contract: Any, name: str, by: Any = None) -> Any:
    """The single event called `name` (logged by `by`, if given) in the contract's last call."""
    found = events(contract, name, by)
    assert len(found) == 1, f"expected one {name}, got {[type(e).__name__ for e in contract.get_logs()]}"
    return found[0]


def bootstrap(suite: Suite, world: World) -> None:
    """Oracles, principals, the default policies and the first node, set by the council's bootstrapper."""
    pam = suite.pam
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, world.oracle, ENC_KEY)
        pam.set_oracle(OTHER_DOMAIN, world.other_oracle, OTHER_ENC_KEY)
        pam.set_roles(world.operator, OPERATOR_ROLE)
        for name in PEOPLE:
            pam.enrol(world.devices[name], World.id(name), OTHER_DOMAIN if name == "dave" else DOMAIN)
        for args in World.policies():
            pam.set_policy(*args)
        suite.network.set_node(NODE, True)


@dataclass
class Actions:
    """Short hands for the common flows, each sent from the right account."""

    council: Any
    pam: Any
    world: World

    def as_(self, name: str) -> Any:
        """A prank context for a person's device (or a raw address)."""
        return boa.env.prank(self.world.devices.get(name, name))

    def elevate(
        self, name: str = "alice", target: bytes = GROUP, duration: int = HOUR, break_glass: bool = False
    ) -> int:
        with self.as_(name):
            return self.pam.request_elevation(target, duration, h("why"), h("CHG-1"), break_glass)

    def unlock(self, name: str = "alice") -> int:
        with self.as_(name):
            return self.pam.request_unlock()

    def password_reset(self, name: str = "alice", payload: bytes = h("payload")) -> int:
        with self.as_(name):
            return self.pam.request_password_reset(payload)

    def approve(self, request_id: int, *names: str) -> None:
        for name in names:
            with self.as_(name):
                self.pam.approve(request_id)

    def grant(self, name: str = "alice", duration: int = HOUR) -> int:
        """An ACTIVE elevation of GROUP for `name`, approved by two approvers other than `name`."""
        request_id = self.elevate(name, duration=duration)
        self.approve(request_id, *[a for a in APPROVERS if a != name][:2])
        return request_id

    def receipt(
        self, request_id: int, action: int, outcome: int = APPLIED, sender: str | None = None
    ) -> None:
        with boa.env.prank(sender or self.world.oracle):
            self.pam.post_receipt(request_id, action, outcome, h("detail"), h("dc1"))

    @staticmethod
    def proposal(contract: Any, fn: str, *args: Any) -> Call:
        """The proposal calling `contract.fn(*args)`: the council, PamChain or PamNetwork."""
        return Call(contract.address, getattr(contract, fn).prepare_calldata(*args))

    def propose(self, call: Call, member: int = 0) -> int:
        """`call` proposed on the council by council member `member`; returns the proposal id."""
        with boa.env.prank(self.world.council[member]):
            return self.council.propose(call.target, call.data)

    def govern(self, call: Call, approvers: tuple[int, ...] = (0, 1)) -> int:
        """Propose `call` on the council from the first member in `approvers` and approve with the rest.

        The last approval executes it: read its events from the council (`one_event(council, ..., by=...)`).
        """
        first, *rest = approvers
        proposal_id = self.propose(call, first)
        for index in rest:
            with boa.env.prank(self.world.council[index]):
                self.council.approve_proposal(proposal_id)
        return proposal_id
