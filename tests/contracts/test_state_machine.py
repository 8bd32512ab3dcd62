# Over 500 lines on purpose: one hypothesis state machine: the model and its rules only make sense read together.
"""A hypothesis state machine over the whole suite: a Python model predicts every outcome, invariants hold.

Each rule predicts from the model whether the call must succeed or revert and checks that it did; the model
changes only on predicted successes. Invariants then compare the chain with the model after every step.

The suite is three contracts: the Council (members, proposals, bootstrap), PamChain and PamNetwork; every
proposal names its target. Since the split the machine also adds and removes oracles of both domains (a
domain may have several; receipts stay first-wins) and changes the node allowlist, both through proposals.

Issue 12 added what the first machine missed: approvers are suspended, rotated and moved in and out of the
approver set, council members are removed and re-added, requester sets change, break-glass has a cooldown,
unlocks a rate limit, bootstrap ends three ways; the invariants check from the chain alone that a grant is
active only with a quorum counted under the approvers' current seats, that nobody holds two live
break-glass grants, that bootstrap power is over, and that every receipt is one its grant's state explains.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boa
import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pamkit import (
    A_ADD_MEMBER,
    A_REMOVE_MEMBER,
    A_RESET_PASSWORD,
    A_UNLOCK,
    ACTIVE,
    APPLIED,
    APPROVED,
    BOOTSTRAP_TTL,
    BREAK_GLASS_COOLDOWN,
    BREAK_GLASS_MAX,
    CANCELLED,
    DENIED,
    DOMAIN,
    ELEVATE,
    ENDED,
    EXPIRED,
    FAILED,
    FULFILLED,
    GROUP,
    GROUP_MAX,
    HOUR,
    NODE,
    ORACLE_ROLE,
    OTHER_DOMAIN,
    OTHER_GROUP,
    OUTCOME_FAILED,
    PASSWORD_RESET,
    PENDING,
    PEOPLE,
    REQUESTERS,
    SELF_GROUP,
    UNLOCK,
    UNLOCK_LIMIT,
    UNLOCK_TARGET,
    UNLOCK_WINDOW,
    ZERO32,
    Suite,
    World,
    h,
)

# Policy facts of the bootstrapped world (pamkit.World.policies), as the model sees them.
APPROVERS_OF = {
    UNLOCK_TARGET: {"bob", "carol", "erin"},
    "password": {"bob", "carol", "erin"},
    GROUP: {"bob", "carol", "erin"},
    SELF_GROUP: {"bob"},
    OTHER_GROUP: {"dave"},
}
REQUESTERS_OF = {GROUP: set(REQUESTERS), SELF_GROUP: set(REQUESTERS), OTHER_GROUP: {"dave"}}
MAX_PENDING = HOUR
GROUP_CAP, BREAK_GLASS_CAP, SELF_CAP, OTHER_CAP = GROUP_MAX, BREAK_GLASS_MAX, HOUR, HOUR
MAX_LIVE = 16
# Not enrolled at first: the `enrol` rule enrols them (in DOMAIN) through a proposal.
EXTRA = ("gina", "hank")
EVERYONE = (*PEOPLE, *EXTRA)
# Who may be made an oracle of which domain by the `oracle_churn` rule (world attribute names).
ORACLE_CANDIDATES = ("oracle", "other_oracle", "stranger")
ORACLE_DOMAINS = (DOMAIN, OTHER_DOMAIN)
# Node ids the `set_node` rule plays with (NODE is allowed at bootstrap; ZERO32 is always refused).
NODE_IDS = (NODE, h("node:site-b"), h("node:site-c"), ZERO32)
# Run statistics reported by the test: examples, rule steps, calls that succeeded and reverted as predicted.
STATS = dict.fromkeys(("examples", "steps", "succeeded", "reverted", "checks", "unchanged"), 0)
# Calls that may have changed the chain (modifying, not simulated, not failed), counted by `_count_changes`.
CHANGES = [0]


def on_change(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Run invariant `check` only if the chain, the clock or the model may have moved since it last passed.

    A step whose calls all reverted (as predicted) changes neither the chain nor the model (the model changes
    only with a call that succeeded), and every invariant is a function of the chain, the clock and the model:
    checking again could only repeat the last verdict. It
    was most of the machine's time (each check is dozens of calls through py-evm).
    """

    @functools.wraps(check)
    def checked(machine: Any) -> None:
        mark = (CHANGES[0], machine.now)
        if machine.checked.get(check.__name__) == mark:
            STATS["unchanged"] += 1
            return
        STATS["checks"] += 1
        check(machine)
        machine.checked[check.__name__] = mark

    return checked


@pytest.fixture
def _count_changes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    execute_code = boa.env.execute_code

    def counted(*args: Any, **kwargs: Any) -> Any:
        computation = execute_code(*args, **kwargs)
        if (
            kwargs.get("is_modifying", True)
            and not kwargs.get("simulate", False)
            and not computation.is_error
        ):
            CHANGES[0] += 1
        return computation

    monkeypatch.setattr(boa.env, "execute_code", counted)
    yield


@dataclass
class Req:
    """The model of one request."""

    kind: int
    subject: str
    target: Any
    required: int
    deadline: int
    duration: int
    break_glass: bool = False
    status: int = PENDING
    # Approver -> the (seat, generation) stamp its approval carries; it counts only while still current.
    approvals: dict[str, tuple[int, int]] = field(default_factory=dict)
    quorum: frozenset[str] = frozenset()  # the approvals counted when the quorum was reached
    expiry: int = 0


class PamMachine(RuleBasedStateMachine):
    """Drives one bootstrapped deployment (bootstrap ended) with every kind of caller."""

    council: ClassVar[Any]
    pam: ClassVar[Any]
    network: ClassVar[Any]
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.bootstrap_over = False  # set by the `end_bootstrap` initialize rule
        self.status = {name: 1 if name in PEOPLE else 0 for name in EVERYONE}  # 0 NONE, 1 ACTIVE, 2 SUSPENDED
        self.device = dict(self.world.devices)
        self.device.update({name: boa.env.generate_address() for name in EXTRA})
        self.old_devices: list[str] = []
        self.reqs: dict[int, Req] = {}
        self.receipts: dict[tuple[int, int], str] = {}  # (request, action) -> the oracle that posted it
        self.threshold = 2
        self.proposals: dict[int, dict[str, Any]] = {}
        self.oracle = self.world.oracle
        # (domain, oracle address): who may post receipts and drift for a domain (a domain may have several).
        self.oracles = {(DOMAIN, self.world.oracle), (OTHER_DOMAIN, self.world.other_oracle)}
        self.nodes = {NODE}  # the allowed node ids
        self.members = [0, 1, 2]  # council seats in on-chain order (removal swaps the last one in)
        self.approvers_of = {key: set(names) for key, names in APPROVERS_OF.items()}
        self.requesters_of = {key: set(names) for key, names in REQUESTERS_OF.items()}
        self._seats = itertools.count(1)
        self.seat = {(key, n): next(self._seats) for key, names in APPROVERS_OF.items() for n in names}
        self.gen = dict.fromkeys(EVERYONE, 0)  # bumped by suspension and device rotation
        self.bg_until = dict.fromkeys(EVERYONE, 0)  # scheduled expiry of the latest break-glass grant
        self.unlock_window = dict.fromkeys(EVERYONE, 0)
        self.unlocks = dict.fromkeys(EVERYONE, 0)
        # invariant -> the mark (chain changes, clock) it last passed at: see on_change
        self.checked: dict[str, tuple[int, int]] = {}
        STATS["examples"] += 1
        STATS["steps"] -= 1  # the invariants also run once before the first step

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return boa.env.timestamp

    def expect(self, should_succeed: bool, sender: str, contract: Any, fn: str, *args: Any) -> Any:
        """Call `contract.fn` from `sender`; it must succeed iff the model says so."""
        with boa.env.prank(sender):
            try:
                result = getattr(contract, fn)(*args)
            except boa.BoaError as exc:
                assert not should_succeed, f"{fn}{args} from {sender} reverted unexpectedly: {exc}"
                STATS["reverted"] += 1
                return None
        assert should_succeed, f"{fn}{args} from {sender} succeeded but the model expected a revert"
        STATS["succeeded"] += 1
        return result

    def live(self, request_id: int) -> bool:
        req = self.reqs[request_id]
        return req.status == ACTIVE and self.now < req.expiry

    def live_count(self, name: str) -> int:
        return sum(1 for i, r in self.reqs.items() if r.subject == name and self.live(i))

    @staticmethod
    def key(req: Req) -> Any:
        return "password" if req.kind == PASSWORD_RESET else req.target

    def approvers(self, req: Req) -> set[str]:
        return self.approvers_of[self.key(req)]

    def stamp(self, req: Req, name: str) -> tuple[int, int] | None:
        """The stamp an approval by `name` on `req` would carry now (None: not an approver)."""
        seat = self.seat.get((self.key(req), name))
        return None if seat is None else (seat, self.gen[name])

    def counted(self, req: Req) -> frozenset[str]:
        return frozenset(a for a, st_ in req.approvals.items() if st_ == self.stamp(req, a))

    def bg_free(self, name: str) -> bool:
        """Whether `name` may start a break-glass grant now (GROUP is the only break-glass policy)."""
        return self.now >= self.bg_until[name] + BREAK_GLASS_COOLDOWN

    def activate(self, request_id: int) -> None:
        req = self.reqs[request_id]
        req.quorum = self.counted(req)
        if req.kind == ELEVATE:
            req.status, req.expiry = ACTIVE, self.now + req.duration
            if req.break_glass:
                self.bg_until[req.subject] = req.expiry
        else:
            req.status = APPROVED

    @staticmethod
    def domain_of(req: Req) -> bytes:
        return OTHER_DOMAIN if req.target == OTHER_GROUP else DOMAIN

    def is_oracle(self, domain: bytes, account: str) -> bool:
        """Whether `account` may post for `domain`: one of its oracles (which implies the ORACLE role)."""
        return (domain, account) in self.oracles

    def pick(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.reqs)), label="request")

    # -- requests ------------------------------------------------------------------------------------

    @rule(who=st.sampled_from(EVERYONE), kind=st.sampled_from(["unlock", "password"]))
    def request_simple(self, who: str, kind: str) -> None:
        ok = self.status[who] == 1 and who != "dave"
        if kind == "unlock":
            new_window = self.now >= self.unlock_window[who] + UNLOCK_WINDOW
            used = 0 if new_window else self.unlocks[who]
            ok = ok and used < UNLOCK_LIMIT
            request_id = self.expect(ok, self.device[who], self.pam, "request_unlock")
            target, code = UNLOCK_TARGET, UNLOCK
            if ok:
                if new_window:
                    self.unlock_window[who] = self.now
                self.unlocks[who] = used + 1
                alarms = [e for e in self.pam.get_logs() if type(e).__name__ == "Alarm"]
                assert len(alarms) == (used + 1 == UNLOCK_LIMIT), "Alarm(UNLOCK_LIMIT) exactly on the last"
        else:
            request_id = self.expect(ok, self.device[who], self.pam, "request_password_reset", h("payload"))
            target, code = "password", PASSWORD_RESET
        if ok:
            self.reqs[request_id] = Req(code, who, target, 1, self.now + MAX_PENDING, 0)

    @rule(
        who=st.sampled_from(EVERYONE),
        group=st.sampled_from([GROUP, SELF_GROUP, OTHER_GROUP]),
        duration=st.sampled_from([0, 60, HOUR, 2 * HOUR, GROUP_CAP, GROUP_CAP + 1]),
        break_glass=st.booleans(),
    )
    def request_elevation(self, who: str, group: bytes, duration: int, break_glass: bool) -> None:
        target = group
        in_domain = (who == "dave") == (target == OTHER_GROUP)
        cap = {GROUP: GROUP_CAP, SELF_GROUP: SELF_CAP, OTHER_GROUP: OTHER_CAP}[target]
        required = {GROUP: 2, SELF_GROUP: 0, OTHER_GROUP: 1}[target]
        if break_glass:
            cap = BREAK_GLASS_CAP if target == GROUP else 0
            required = 1
        immediate = required == 0
        ok = (
            self.status[who] == 1
            and in_domain
            and who in self.requesters_of[target]
            and 0 < duration <= cap
            and (not break_glass or self.bg_free(who))
            and (not immediate or self.live_count(who) < MAX_LIVE)
        )
        request_id = self.expect(
            ok,
            self.device[who],
            self.pam,
            "request_elevation",
            target,
            duration,
            h("why"),
            h("ticket"),
            break_glass,
        )
        if ok:
            deadline = self.now + MAX_PENDING
            self.reqs[request_id] = Req(ELEVATE, who, target, required, deadline, duration, break_glass)
            if immediate:
                self.activate(request_id)

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def approve(self, who: str, data: st.DataObject) -> None:
        self.approve_as(who, self.pick(data))

    def approve_as(self, who: str, request_id: int) -> None:
        req = self.reqs[request_id]
        stamp = self.stamp(req, who)
        after = dict(req.approvals, **{who: stamp}) if stamp is not None else req.approvals
        reaches = len([a for a, st_ in after.items() if st_ == self.stamp(req, a)]) >= req.required
        activation_ok = req.kind != ELEVATE or (
            req.subject in self.requesters_of[req.target]
            and self.live_count(req.subject) < MAX_LIVE
            and (not req.break_glass or self.bg_free(req.subject))
        )
        ok = (
            req.status == PENDING
            and self.now < req.deadline
            and who != req.subject
            and who in self.approvers(req)
            and self.status[who] == 1
            and req.approvals.get(who) != stamp
            and self.status[req.subject] == 1
            and (not reaches or activation_ok)
        )
        self.expect(ok, self.device[who], self.pam, "approve", request_id)
        if ok:
            req.approvals[who] = stamp  # type: ignore[assignment]
            if reaches:
                self.activate(request_id)

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def deny(self, who: str, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = (
            req.status == PENDING
            and self.now < req.deadline
            and who != req.subject
            and who in self.approvers(req)
            and self.status[who] == 1
        )
        self.expect(ok, self.device[who], self.pam, "deny", request_id, h("no"))
        if ok:
            req.status = DENIED

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def cancel(self, who: str, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = who == req.subject and req.status == PENDING and self.now < req.deadline
        self.expect(ok, self.device[who], self.pam, "cancel", request_id)
        if ok:
            req.status = CANCELLED

    @precondition(lambda self: self.reqs)
    @rule(data=st.data())
    def expire_request(self, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = req.status == PENDING and self.now >= req.deadline
        self.expect(ok, self.world.stranger, self.pam, "expire_request", request_id)
        if ok:
            req.status = EXPIRED

    # -- grants --------------------------------------------------------------------------------------

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from([*PEOPLE, "council", "stranger"]), data=st.data())
    def revoke(self, who: str, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        if who == "council":
            sender, allowed = self.world.council[0], True
        elif who == "stranger":
            sender, allowed = self.world.stranger, False
        else:
            sender = self.device[who]
            allowed = self.status[who] == 1 and (
                who == req.subject or (req.kind == ELEVATE and who in self.approvers(req))
            )
        ok = allowed and self.live(request_id)
        self.expect(ok, sender, self.pam, "revoke", request_id)
        if ok:
            req.status = ENDED

    @precondition(lambda self: self.reqs)
    @rule(data=st.data())
    def end_expired(self, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = req.status == ACTIVE and self.now >= req.expiry
        self.expect(ok, self.world.stranger, self.pam, "end_expired", request_id)
        if ok:
            req.status = ENDED

    # -- suspension and devices ----------------------------------------------------------------------

    @rule(who=st.sampled_from(EVERYONE), by=st.sampled_from(["council", "stranger", "approver"]))
    def suspend(self, who: str, by: str) -> None:
        sender = {
            "council": self.world.council[1],
            "stranger": self.world.stranger,
            "approver": self.device["bob"],
        }
        ok = by == "council" and self.status[who] == 1
        self.expect(ok, sender[by], self.pam, "suspend", World.id(who))
        if ok:
            self.status[who] = 2
            self.gen[who] += 1
            for req in self.reqs.values():
                if req.subject == who and req.status == ACTIVE:
                    req.status = ENDED

    @rule(who=st.sampled_from(EVERYONE))
    def reinstate(self, who: str) -> None:
        # A single member cannot; two members through a proposal can.
        self.expect(False, self.world.council[0], self.pam, "reinstate", World.id(who))
        if self.govern(self.status[who] == 2, self.pam, "reinstate", World.id(who)):
            self.status[who] = 1

    @rule(who=st.sampled_from(EVERYONE))
    def rotate_device(self, who: str) -> None:
        new_device = boa.env.generate_address()
        ok = self.status[who] != 0
        if self.govern(ok, self.pam, "rotate_device", World.id(who), new_device):
            self.old_devices.append(self.device[who])
            self.device[who] = new_device
            self.gen[who] += 1

    @rule(who=st.sampled_from(EVERYONE), reuse_device=st.booleans())
    def enrol(self, who: str, reuse_device: bool) -> None:
        device = self.device["alice"] if reuse_device else self.device[who]
        ok = self.status[who] == 0 and not reuse_device
        if self.govern(ok, self.pam, "enrol", device, World.id(who), DOMAIN):
            self.status[who] = 1

    @precondition(lambda self: self.old_devices and self.reqs)
    @rule(data=st.data())
    def old_device_is_powerless(self, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(self.old_devices))
        request_id = self.pick(data)
        self.expect(False, old, self.pam, "request_unlock")
        self.expect(False, old, self.pam, "approve", request_id)
        self.expect(False, old, self.pam, "cancel", request_id)
        self.expect(False, old, self.pam, "revoke", request_id)

    # -- time ----------------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 59, 600, 1800, HOUR, 3 * HOUR]))
    def time_travel(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    # -- receipts ------------------------------------------------------------------------------------

    @precondition(lambda self: self.reqs)
    @rule(
        sender=st.sampled_from(["oracle", "oracle", "oracle", "other_oracle", "stranger", "alice"]),
        action=st.sampled_from([A_UNLOCK, A_ADD_MEMBER, A_REMOVE_MEMBER, A_RESET_PASSWORD, 9]),
        outcome=st.sampled_from([APPLIED, OUTCOME_FAILED]),
        data=st.data(),
    )
    def post_receipt(self, sender: str, action: int, outcome: int, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        address = {
            "oracle": self.world.oracle,
            "other_oracle": self.world.other_oracle,
            "stranger": self.world.stranger,
            "alice": self.device["alice"],
        }[sender]
        matches = {
            A_UNLOCK: req.kind == UNLOCK and req.status == APPROVED,
            A_RESET_PASSWORD: req.kind == PASSWORD_RESET and req.status == APPROVED,
            A_ADD_MEMBER: req.kind == ELEVATE and req.status in (ACTIVE, ENDED),
            A_REMOVE_MEMBER: req.kind == ELEVATE
            and req.status in (ACTIVE, ENDED)
            and not self.live(request_id),
        }.get(action, False)
        ok = (
            self.is_oracle(self.domain_of(req), address)
            and (request_id, action) not in self.receipts
            and matches
        )
        self.expect(ok, address, self.pam, "post_receipt", request_id, action, outcome, h("detail"), h("dc"))
        if ok:
            self.receipts[(request_id, action)] = address
            if action in (A_UNLOCK, A_RESET_PASSWORD):
                req.status = FULFILLED if outcome == APPLIED else FAILED

    @precondition(
        lambda self: any(r.kind == ELEVATE and r.status in (ACTIVE, ENDED) for r in self.reqs.values())
    )
    @rule(data=st.data())
    def membership_receipts_through_a_grant(self, data: st.DataObject) -> None:
        """An oracle of the domain tries the removal receipts on an activated grant, first as it is (live or
        not), then past its expiry, then a (possibly late) add receipt: a removal only once the grant is over.
        With several oracles each receipt comes from any of them; with none, every one is refused."""
        grants = sorted(i for i, r in self.reqs.items() if r.kind == ELEVATE and r.status in (ACTIVE, ENDED))
        request_id = data.draw(st.sampled_from(grants), label="grant")
        req = self.reqs[request_id]
        domain = self.domain_of(req)
        oracles = sorted(a for d, a in self.oracles if d == domain) or [self.world.oracle]
        cells = [(A_REMOVE_MEMBER, OUTCOME_FAILED), (A_REMOVE_MEMBER, APPLIED)]
        for past_expiry in (False, True):
            if past_expiry and self.now < req.expiry:
                boa.env.time_travel(seconds=req.expiry - self.now)
            last = [
                (A_ADD_MEMBER, data.draw(st.sampled_from([APPLIED, OUTCOME_FAILED]), label="add outcome"))
            ]
            for action, outcome in [*cells, *last] if past_expiry else cells:
                live = self.live(request_id)
                consistent = action == A_ADD_MEMBER or not live  # a removal only once the grant is over
                oracle = data.draw(st.sampled_from(oracles), label="oracle")
                ok = (
                    self.is_oracle(domain, oracle)
                    and (request_id, action) not in self.receipts
                    and consistent
                )
                self.expect(
                    ok, oracle, self.pam, "post_receipt", request_id, action, outcome, h("detail"), h("dc")
                )
                if ok:
                    self.receipts[(request_id, action)] = oracle

    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def two_break_glass_requests(self, who: str, data: st.DataObject) -> None:
        """Two break-glass requests pending at once; the second may not activate while the first is live."""
        before = set(self.reqs)
        self.request_elevation(who, GROUP, HOUR, True)
        self.request_elevation(who, GROUP, HOUR, True)
        for request_id in sorted(set(self.reqs) - before):
            approver = data.draw(
                st.sampled_from(sorted(self.approvers(self.reqs[request_id]))), label="approver"
            )
            self.approve_as(approver, request_id)

    @rule(sender=st.sampled_from(["oracle", "other_oracle", "stranger"]))
    def report_drift(self, sender: str) -> None:
        address = getattr(self.world, sender)
        ok = self.is_oracle(DOMAIN, address)
        self.expect(ok, address, self.pam, "report_drift", DOMAIN, GROUP, h("m"), h("dc"), False)

    # -- governance ----------------------------------------------------------------------------------

    def govern(
        self, inner_ok: bool, contract: Any, fn: str, *args: Any, members: tuple[int, ...] = (0, 1, 2)
    ) -> bool:
        """Propose `contract.fn(*args)` on the council from the first of `members` and approve with the next
        ones up to the threshold.

        It executes iff the inner call succeeds; a proposal whose call fails is cancelled by its proposer
        at once (it could succeed later, in a state the model does not replay). Returns whether it executed.
        """
        data = getattr(contract, fn).prepare_calldata(*args)
        proposer, *rest = members
        proposal_id = self.expect(
            True, self.world.council[proposer], self.council, "propose", contract.address, data
        )
        approvers = rest[: self.threshold - 1]
        for member in approvers:
            last = member == approvers[-1]
            self.expect(
                inner_ok or not last,
                self.world.council[member],
                self.council,
                "approve_proposal",
                proposal_id,
            )
        if not inner_ok:
            self.expect(True, self.world.council[proposer], self.council, "cancel_proposal", proposal_id)
        return inner_ok

    @initialize(how=st.sampled_from(["deployer", "council", "deadline"]))
    def end_bootstrap(self, how: str) -> None:
        """Bootstrap ends by the deployer, by a council proposal, or on its own at the deadline."""
        if how == "deployer":
            self.expect(True, self.world.deployer, self.council, "end_bootstrap")
        elif how == "council":
            assert self.govern(True, self.council, "end_bootstrap")
        else:
            boa.env.time_travel(seconds=BOOTSTRAP_TTL)
        self.bootstrap_over = True

    @precondition(lambda self: self.bootstrap_over)
    @rule()
    def bootstrapper_is_powerless(self) -> None:
        self.expect(False, self.world.deployer, self.council, "end_bootstrap")
        self.expect(False, self.world.deployer, self.council, "add_council_member", self.world.deployer)
        self.expect(False, self.world.deployer, self.pam, "suspend", World.id("alice"))
        self.expect(False, self.world.deployer, self.pam, "set_roles", self.world.deployer, 3)
        self.expect(False, self.world.deployer, self.network, "set_node", h("node:deployer"), True)

    @rule(member=st.integers(0, 2))
    def remove_and_readd_council_member(self, member: int) -> None:
        """Both through proposals; the member's approvals of open proposals must not come back."""
        if not self.govern(
            self.threshold < 3, self.council, "remove_council_member", self.world.council[member]
        ):
            return
        position, last = self.members.index(member), self.members.pop()
        if last != member:
            self.members[position] = last
        for proposal in self.proposals.values():
            proposal["approvals"].discard(member)
        others = tuple(m for m in self.members if m != member)
        assert self.govern(
            True, self.council, "add_council_member", self.world.council[member], members=others
        )
        self.members.append(member)

    @rule(
        approvers=st.sets(st.sampled_from(["alice", "bob", "carol", "erin"])),
        requesters=st.sets(st.sampled_from(REQUESTERS)),
    )
    def set_group_policy(self, approvers: set[str], requesters: set[str]) -> None:
        """GROUP's approver and requester sets change; a quorum of 2 needs at least 2 approvers."""
        args = (
            *(GROUP, DOMAIN, 2, GROUP_CAP, MAX_PENDING, False, True, 1, BREAK_GLASS_CAP),
            [World.id(n) for n in sorted(approvers)],
            [World.id(n) for n in sorted(requesters)],
            *(BREAK_GLASS_COOLDOWN, 0, 0),
        )
        if not self.govern(len(approvers) >= 2, self.pam, "set_policy", *args):
            return
        for name in self.approvers_of[GROUP] - approvers:
            del self.seat[(GROUP, name)]
        for name in approvers - self.approvers_of[GROUP]:
            self.seat[(GROUP, name)] = next(self._seats)
        self.approvers_of[GROUP], self.requesters_of[GROUP] = set(approvers), set(requesters)

    @rule(member=st.integers(0, 2), k=st.integers(1, 4))
    def propose_threshold(self, member: int, k: int) -> None:
        data = self.council.set_threshold.prepare_calldata(k)
        proposal_id = self.expect(
            True, self.world.council[member], self.council, "propose", self.council.address, data
        )
        self.proposals[proposal_id] = {"approvals": {member}, "created": self.now, "closed": False, "k": k}

    @precondition(lambda self: self.proposals)
    @rule(member=st.sampled_from([0, 1, 2, "stranger"]), data=st.data())
    def approve_proposal(self, member: int | str, data: st.DataObject) -> None:
        self.approve_proposal_as(member, data.draw(st.sampled_from(sorted(self.proposals)), label="proposal"))

    def approve_proposal_as(self, member: int | str, proposal_id: int) -> None:
        proposal = self.proposals[proposal_id]
        is_member = member != "stranger"
        open_ = not proposal["closed"] and self.now < proposal["created"] + 24 * HOUR
        reaches = is_member and len(proposal["approvals"] | {member}) >= self.threshold
        k = proposal["k"]
        inner_ok = isinstance(k, int) and 2 <= k <= 3
        ok = is_member and open_ and member not in proposal["approvals"] and (not reaches or inner_ok)
        sender = self.world.stranger if member == "stranger" else self.world.council[member]
        self.expect(ok, sender, self.council, "approve_proposal", proposal_id)
        if ok:
            proposal["approvals"].add(member)
            if reaches:
                proposal["closed"] = True
                self.threshold = k

    @rule(member=st.integers(0, 2), data=st.data())
    def proposal_across_member_churn(self, member: int, data: st.DataObject) -> None:
        """A member approves (proposes), is removed and re-added, another approves: no revived approval."""
        self.propose_threshold(member, self.threshold)
        proposal_id = max(self.proposals)
        self.remove_and_readd_council_member(member)
        other = data.draw(st.sampled_from([m for m in (0, 1, 2) if m != member]), label="other")
        self.approve_proposal_as(other, proposal_id)

    @rule(
        requester=st.sampled_from(EVERYONE),
        how=st.sampled_from(["suspend", "rotate", "drop", "drop-and-readd"]),
        data=st.data(),
    )
    def approval_then_eligibility_lost(self, requester: str, how: str, data: st.DataObject) -> None:
        """An approver approves a GROUP request, then is suspended, rotated or moved out of (and back into)
        the approver set; the next approval must not reach the quorum with the stale one."""
        before = set(self.reqs)
        self.request_elevation(requester, GROUP, HOUR, False)
        created = set(self.reqs) - before
        if not created:
            return
        request_id = created.pop()
        req = self.reqs[request_id]
        candidates = sorted(self.approvers(req) - {req.subject})
        if not candidates:
            return
        first = data.draw(st.sampled_from(candidates), label="first approver")
        self.approve_as(first, request_id)
        if how == "suspend":
            self.suspend(first, "council")
        elif how == "rotate":
            self.rotate_device(first)
        else:
            kept = self.approvers_of[GROUP] - {first}
            for name in ("alice", "bob", "carol", "erin"):
                if len(kept) < 2 and name != first:
                    kept.add(name)
            requesters = set(self.requesters_of[GROUP])
            self.set_group_policy(kept, requesters)
            if how == "drop-and-readd":
                self.set_group_policy(kept | {first}, requesters)
        second = data.draw(st.sampled_from(EVERYONE), label="second approver")
        self.approve_as(second, request_id)

    @rule(who=st.sampled_from(["council", "stranger", "oracle"]), k=st.integers(2, 3))
    def governance_without_quorum(self, who: str, k: int) -> None:
        sender = {"council": self.world.council[2], "stranger": self.world.stranger, "oracle": self.oracle}[
            who
        ]
        self.expect(False, sender, self.council, "set_threshold", k)
        self.expect(
            False, sender, self.pam, "set_policy", GROUP, DOMAIN, 0, 1, 1, True, True, 0, 0, [], [], 0, 0, 0
        )
        self.expect(False, sender, self.pam, "enrol", sender, h("intruder"), DOMAIN)
        self.expect(False, sender, self.pam, "set_roles", sender, 3)
        self.expect(False, sender, self.pam, "set_oracle", DOMAIN, sender, h("k"))
        self.expect(False, sender, self.network, "set_node", h("node:intruder"), True)

    # -- oracles and nodes ---------------------------------------------------------------------------

    @rule(
        add=st.booleans(),
        domain=st.sampled_from(ORACLE_DOMAINS),
        who=st.sampled_from(ORACLE_CANDIDATES),
    )
    def oracle_churn(self, add: bool, domain: bytes, who: str) -> None:
        """An oracle added to or removed from a domain, through a proposal; a council member alone cannot."""
        account = getattr(self.world, who)
        fn = "set_oracle" if add else "remove_oracle"
        args = (domain, account, h("x25519")) if add else (domain, account)
        self.expect(False, self.world.council[0], self.pam, fn, *args)
        if self.govern(add or self.is_oracle(domain, account), self.pam, fn, *args):
            if add:
                self.oracles.add((domain, account))
            else:
                self.oracles.discard((domain, account))

    @rule(node_id=st.sampled_from(NODE_IDS), allowed=st.booleans())
    def set_node(self, node_id: bytes, allowed: bool) -> None:
        """The node allowlist changes through proposals only, never to empty."""
        ok = node_id != ZERO32 and (node_id in self.nodes) != allowed and (allowed or len(self.nodes) > 1)
        self.expect(False, self.world.council[1], self.network, "set_node", node_id, allowed)
        if self.govern(ok, self.network, "set_node", node_id, allowed):
            if allowed:
                self.nodes.add(node_id)
            else:
                self.nodes.discard(node_id)

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        STATS["steps"] += 1

    @invariant()
    @on_change
    def statuses_match_model(self) -> None:
        for request_id, req in self.reqs.items():
            effective = req.status
            if req.status == PENDING and self.now >= req.deadline:
                effective = EXPIRED
            if req.status == ACTIVE and self.now >= req.expiry:
                effective = ENDED
            assert self.pam.status_of(request_id) == effective, request_id

    @invariant()
    @on_change
    def grants_are_sound(self) -> None:
        for request_id, req in self.reqs.items():
            if req.kind != ELEVATE or req.status not in (ACTIVE, ENDED):
                continue
            record = self.pam.request(request_id)
            # Never approved by the requester; quorum reached (or none required) before activation, counted
            # only over approvals whose approver was, at that moment, in the set, active and on its device.
            assert not self.pam.has_approved(request_id, World.id(req.subject))
            assert record.approvals >= record.approvals_required == req.required
            assert record.approvals == len(req.quorum) >= req.required
            assert req.subject not in req.quorum
            if self.pam.is_active(request_id):
                assert self.now < record.expiry, "active at or after expiry"
                assert self.status[req.subject] == 1, "suspended principal holds a live grant"

    @invariant()
    @on_change
    def suspended_have_nothing(self) -> None:
        for name, status in self.status.items():
            assert self.pam.principal(World.id(name)).status == status
            if status != 1:
                assert self.pam.active_grants(World.id(name)) == []
                assert not self.pam.is_account_allowed(self.device[name])

    @invariant()
    @on_change
    def receipts_only_from_oracle(self) -> None:
        for request_id, action in itertools.product(self.reqs, (A_UNLOCK, A_ADD_MEMBER, A_REMOVE_MEMBER)):
            receipt = self.pam.receipt(request_id, action)
            if (request_id, action) in self.receipts:
                assert receipt.oracle == self.receipts[(request_id, action)], "first receipt wins"
            else:
                assert receipt.outcome == 0

    @invariant()
    @on_change
    def governance_only_by_quorum(self) -> None:
        assert self.council.council_threshold() == self.threshold
        assert self.council.council_members() == [self.world.council[m] for m in self.members]
        for proposal_id, proposal in self.proposals.items():
            for member in (0, 1, 2):
                counted = self.council.has_approved_proposal(proposal_id, self.world.council[member])
                assert counted == (member in proposal["approvals"]), (proposal_id, member)

    @invariant()
    @on_change
    def bootstrap_power_ends(self) -> None:
        if self.bootstrap_over:
            assert not self.council.bootstrapping()
            assert not self.pam.is_account_allowed(self.world.deployer)

    @invariant()
    @on_change
    def oracles_match_model(self) -> None:
        """ORACLE is held exactly by the accounts serving a domain; each domain's oracles are the model's."""
        for who in ORACLE_CANDIDATES:
            account = getattr(self.world, who)
            serves = [d for d in ORACLE_DOMAINS if self.is_oracle(d, account)]
            assert self.pam.has_role(account, ORACLE_ROLE) == bool(serves), who
            assert self.pam.oracle_domain_count(account) == len(serves), who
            for domain in ORACLE_DOMAINS:
                assert self.pam.is_domain_oracle(domain, account) == ((domain, account) in self.oracles)

    @invariant()
    @on_change
    def nodes_match_model(self) -> None:
        assert self.network.node_count() == len(self.nodes) >= 1
        for node_id in NODE_IDS:
            assert self.network.is_node_allowed(node_id) == (node_id in self.nodes)

    @invariant()
    @on_change
    def one_live_break_glass_per_principal(self) -> None:
        holders = [r.subject for i, r in self.reqs.items() if r.break_glass and self.pam.is_active(i)]
        assert len(holders) == len(set(holders)), f"two live break-glass grants: {holders}"

    @invariant()
    @on_change
    def receipts_explained_by_state(self) -> None:
        """From the chain alone: every receipt is one its request's state at posting time explains."""
        for request_id, action in self.receipts:
            receipt = self.pam.receipt(request_id, action)
            record = self.pam.request(request_id)
            if action in (A_UNLOCK, A_RESET_PASSWORD):
                assert record.status == (FULFILLED if receipt.outcome == APPLIED else FAILED)
                continue
            end = self.pam.grant_end(request_id)
            assert record.start <= receipt.posted
            if action == A_REMOVE_MEMBER:
                assert receipt.posted >= record.expiry or (end.reason != 0 and end.at <= receipt.posted)


def test_state_machine(_suite_base: Suite, world: World, _count_changes: None) -> None:
    """Bounded by the loaded hypothesis profile (`ci` by default, `long` for the 10k-step run)."""

    class Machine(PamMachine):
        pass

    Machine.council, Machine.pam, Machine.network = _suite_base.council, _suite_base.pam, _suite_base.network
    Machine.world = world
    STATS.update(dict.fromkeys(STATS, 0))
    run_state_machine_as_test(Machine, settings=settings(stateful_step_count=30))
    print("\nstate machine:", ", ".join(f"{value} {key}" for key, value in STATS.items()))
    assert STATS["succeeded"] > 0 and STATS["reverted"] > 0
    assert STATS["checks"] > 10 * STATS["examples"], STATS  # the invariants ran, not only skipped
