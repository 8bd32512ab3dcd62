"""A hypothesis state machine over the whole suite: a Python model predicts every outcome, invariants hold.

Each rule predicts from the model whether the call must succeed or revert and checks that it did; the model
changes only on predicted successes. Invariants then compare the chain with the model after every step.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boa
import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
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
    CANCELLED,
    DENIED,
    DOMAIN,
    ELEVATE,
    ENDED,
    EXPIRED,
    FAILED,
    FULFILLED,
    GROUP,
    HOUR,
    OTHER_GROUP,
    OUTCOME_FAILED,
    PASSWORD_RESET,
    PENDING,
    PEOPLE,
    SELF_GROUP,
    UNLOCK,
    UNLOCK_TARGET,
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
MAX_PENDING = HOUR
GROUP_CAP, BREAK_GLASS_CAP, SELF_CAP, OTHER_CAP = 8 * HOUR, HOUR, HOUR, HOUR
MAX_LIVE = 16
# Not enrolled at first: the `enrol` rule enrols them (in DOMAIN) through a proposal.
EXTRA = ("gina", "hank")
EVERYONE = (*PEOPLE, *EXTRA)
# Run statistics reported by the test: examples, rule steps, calls that succeeded and reverted as predicted.
STATS = dict.fromkeys(("examples", "steps", "succeeded", "reverted"), 0)


@dataclass
class Req:
    """The model of one request."""

    kind: int
    subject: str
    target: Any
    required: int
    deadline: int
    duration: int
    status: int = PENDING
    approvals: set[str] = field(default_factory=set)
    expiry: int = 0


class PamMachine(RuleBasedStateMachine):
    """Drives one bootstrapped deployment (bootstrap ended) with every kind of caller."""

    pam: ClassVar[Any]
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        with boa.env.prank(self.world.deployer):
            self.pam.end_bootstrap()
        self.status = {name: 1 if name in PEOPLE else 0 for name in EVERYONE}  # 0 NONE, 1 ACTIVE, 2 SUSPENDED
        self.device = dict(self.world.devices)
        self.device.update({name: boa.env.generate_address() for name in EXTRA})
        self.old_devices: list[str] = []
        self.reqs: dict[int, Req] = {}
        self.receipts: set[tuple[int, int]] = set()
        self.threshold = 2
        self.proposals: dict[int, dict[str, Any]] = {}
        self.oracle = self.world.oracle
        STATS["examples"] += 1
        STATS["steps"] -= 1  # the invariants also run once before the first step

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        return boa.env.timestamp

    def expect(self, should_succeed: bool, sender: str, fn: str, *args: Any) -> Any:
        """Call `fn` from `sender`; it must succeed iff the model says so."""
        with boa.env.prank(sender):
            try:
                result = getattr(self.pam, fn)(*args)
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

    def approvers(self, req: Req) -> set[str]:
        return APPROVERS_OF["password" if req.kind == PASSWORD_RESET else req.target]

    def activate(self, request_id: int) -> None:
        req = self.reqs[request_id]
        if req.kind == ELEVATE:
            req.status, req.expiry = ACTIVE, self.now + req.duration
        else:
            req.status = APPROVED

    def pick(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.reqs)), label="request")

    # -- requests ------------------------------------------------------------------------------------

    @rule(who=st.sampled_from(EVERYONE), kind=st.sampled_from(["unlock", "password"]))
    def request_simple(self, who: str, kind: str) -> None:
        ok = self.status[who] == 1 and who != "dave"
        if kind == "unlock":
            request_id = self.expect(ok, self.device[who], "request_unlock")
            target, code = UNLOCK_TARGET, UNLOCK
        else:
            request_id = self.expect(ok, self.device[who], "request_password_reset", h("payload"))
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
            and 0 < duration <= cap
            and (not immediate or self.live_count(who) < MAX_LIVE)
        )
        request_id = self.expect(
            ok, self.device[who], "request_elevation", target, duration, h("why"), h("ticket"), break_glass
        )
        if ok:
            self.reqs[request_id] = Req(ELEVATE, who, target, required, self.now + MAX_PENDING, duration)
            if immediate:
                self.activate(request_id)

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def approve(self, who: str, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        reaches = len(req.approvals) + 1 >= req.required
        ok = (
            req.status == PENDING
            and self.now < req.deadline
            and who != req.subject
            and who in self.approvers(req)
            and self.status[who] == 1
            and who not in req.approvals
            and self.status[req.subject] == 1
            and not (reaches and req.kind == ELEVATE and self.live_count(req.subject) >= MAX_LIVE)
        )
        self.expect(ok, self.device[who], "approve", request_id)
        if ok:
            req.approvals.add(who)
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
        self.expect(ok, self.device[who], "deny", request_id, h("no"))
        if ok:
            req.status = DENIED

    @precondition(lambda self: self.reqs)
    @rule(who=st.sampled_from(EVERYONE), data=st.data())
    def cancel(self, who: str, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = who == req.subject and req.status == PENDING and self.now < req.deadline
        self.expect(ok, self.device[who], "cancel", request_id)
        if ok:
            req.status = CANCELLED

    @precondition(lambda self: self.reqs)
    @rule(data=st.data())
    def expire_request(self, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = req.status == PENDING and self.now >= req.deadline
        self.expect(ok, self.world.stranger, "expire_request", request_id)
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
        self.expect(ok, sender, "revoke", request_id)
        if ok:
            req.status = ENDED

    @precondition(lambda self: self.reqs)
    @rule(data=st.data())
    def end_expired(self, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        ok = req.status == ACTIVE and self.now >= req.expiry
        self.expect(ok, self.world.stranger, "end_expired", request_id)
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
        self.expect(ok, sender[by], "suspend", World.id(who))
        if ok:
            self.status[who] = 2
            for req in self.reqs.values():
                if req.subject == who and req.status == ACTIVE:
                    req.status = ENDED

    @rule(who=st.sampled_from(EVERYONE))
    def reinstate(self, who: str) -> None:
        # A single member cannot; two members through a proposal can.
        self.expect(False, self.world.council[0], "reinstate", World.id(who))
        if self.govern(self.status[who] == 2, "reinstate", World.id(who)):
            self.status[who] = 1

    @rule(who=st.sampled_from(EVERYONE))
    def rotate_device(self, who: str) -> None:
        new_device = boa.env.generate_address()
        ok = self.status[who] != 0
        if self.govern(ok, "rotate_device", World.id(who), new_device):
            self.old_devices.append(self.device[who])
            self.device[who] = new_device

    @rule(who=st.sampled_from(EVERYONE), reuse_device=st.booleans())
    def enrol(self, who: str, reuse_device: bool) -> None:
        device = self.device["alice"] if reuse_device else self.device[who]
        ok = self.status[who] == 0 and not reuse_device
        if self.govern(ok, "enrol", device, World.id(who), DOMAIN):
            self.status[who] = 1

    @precondition(lambda self: self.old_devices and self.reqs)
    @rule(data=st.data())
    def old_device_is_powerless(self, data: st.DataObject) -> None:
        old = data.draw(st.sampled_from(self.old_devices))
        request_id = self.pick(data)
        self.expect(False, old, "request_unlock")
        self.expect(False, old, "approve", request_id)
        self.expect(False, old, "cancel", request_id)
        self.expect(False, old, "revoke", request_id)

    # -- time ----------------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 59, 600, 1800, HOUR, 3 * HOUR]))
    def time_travel(self, seconds: int) -> None:
        boa.env.time_travel(seconds=seconds)

    # -- receipts ------------------------------------------------------------------------------------

    @precondition(lambda self: self.reqs)
    @rule(
        sender=st.sampled_from(["oracle", "other_oracle", "stranger", "alice"]),
        action=st.sampled_from([A_UNLOCK, A_ADD_MEMBER, A_REMOVE_MEMBER, A_RESET_PASSWORD, 9]),
        outcome=st.sampled_from([APPLIED, OUTCOME_FAILED]),
        data=st.data(),
    )
    def post_receipt(self, sender: str, action: int, outcome: int, data: st.DataObject) -> None:
        request_id = self.pick(data)
        req = self.reqs[request_id]
        domain_oracle = self.world.other_oracle if req.target == OTHER_GROUP else self.oracle
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
            A_REMOVE_MEMBER: req.kind == ELEVATE and req.status in (ACTIVE, ENDED),
        }.get(action, False)
        ok = address == domain_oracle and (request_id, action) not in self.receipts and matches
        self.expect(ok, address, "post_receipt", request_id, action, outcome, h("detail"), h("dc"))
        if ok:
            self.receipts.add((request_id, action))
            if action in (A_UNLOCK, A_RESET_PASSWORD):
                req.status = FULFILLED if outcome == APPLIED else FAILED

    @rule(sender=st.sampled_from(["oracle", "other_oracle", "stranger"]))
    def report_drift(self, sender: str) -> None:
        address = getattr(self.world, sender)
        self.expect(sender == "oracle", address, "report_drift", DOMAIN, GROUP, h("m"), h("dc"), False)

    # -- governance ----------------------------------------------------------------------------------

    def govern(self, inner_ok: bool, fn: str, *args: Any) -> bool:
        """Propose from member 0 and approve with members 1.. up to the threshold.

        It executes iff the inner call succeeds; a proposal whose call fails is cancelled by its proposer
        at once (it could succeed later, in a state the model does not replay). Returns whether it executed.
        """
        data = getattr(self.pam, fn).prepare_calldata(*args)
        proposal_id = self.expect(True, self.world.council[0], "propose", data)
        approvers = [1, 2][: self.threshold - 1]
        for member in approvers:
            last = member == approvers[-1]
            self.expect(inner_ok or not last, self.world.council[member], "approve_proposal", proposal_id)
        if not inner_ok:
            self.expect(True, self.world.council[0], "cancel_proposal", proposal_id)
        return inner_ok

    @rule(member=st.integers(0, 2), k=st.integers(1, 4))
    def propose_threshold(self, member: int, k: int) -> None:
        data = self.pam.set_threshold.prepare_calldata(k)
        proposal_id = self.expect(True, self.world.council[member], "propose", data)
        self.proposals[proposal_id] = {"approvals": {member}, "created": self.now, "closed": False, "k": k}

    @precondition(lambda self: self.proposals)
    @rule(member=st.sampled_from([0, 1, 2, "stranger"]), data=st.data())
    def approve_proposal(self, member: int | str, data: st.DataObject) -> None:
        proposal_id = data.draw(st.sampled_from(sorted(self.proposals)), label="proposal")
        proposal = self.proposals[proposal_id]
        is_member = member != "stranger"
        open_ = not proposal["closed"] and self.now < proposal["created"] + 24 * HOUR
        reaches = is_member and len(proposal["approvals"] | {member}) >= self.threshold
        k = proposal["k"]
        inner_ok = isinstance(k, int) and 2 <= k <= 3
        ok = is_member and open_ and member not in proposal["approvals"] and (not reaches or inner_ok)
        sender = self.world.stranger if member == "stranger" else self.world.council[member]
        self.expect(ok, sender, "approve_proposal", proposal_id)
        if ok:
            proposal["approvals"].add(member)
            if reaches:
                proposal["closed"] = True
                self.threshold = k

    @rule(who=st.sampled_from(["council", "stranger", "oracle"]), k=st.integers(2, 3))
    def governance_without_quorum(self, who: str, k: int) -> None:
        sender = {"council": self.world.council[2], "stranger": self.world.stranger, "oracle": self.oracle}[
            who
        ]
        self.expect(False, sender, "set_threshold", k)
        self.expect(False, sender, "set_policy", GROUP, DOMAIN, 0, 1, 1, True, True, 0, 0, [])
        self.expect(False, sender, "enrol", sender, h("intruder"), DOMAIN)
        self.expect(False, sender, "set_roles", sender, 3)

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def statuses_match_model(self) -> None:
        STATS["steps"] += 1
        for request_id, req in self.reqs.items():
            effective = req.status
            if req.status == PENDING and self.now >= req.deadline:
                effective = EXPIRED
            if req.status == ACTIVE and self.now >= req.expiry:
                effective = ENDED
            assert self.pam.status_of(request_id) == effective, request_id

    @invariant()
    def grants_are_sound(self) -> None:
        for request_id, req in self.reqs.items():
            if req.kind != ELEVATE or req.status not in (ACTIVE, ENDED):
                continue
            record = self.pam.request(request_id)
            # Never approved by the requester; quorum reached (or none required) before activation.
            assert not self.pam.has_approved(request_id, World.id(req.subject))
            assert record.approvals >= record.approvals_required == req.required
            assert record.approvals == len(req.approvals)
            if self.pam.is_active(request_id):
                assert self.now < record.expiry, "active at or after expiry"
                assert self.status[req.subject] == 1, "suspended principal holds a live grant"

    @invariant()
    def suspended_have_nothing(self) -> None:
        for name, status in self.status.items():
            assert self.pam.principal(World.id(name)).status == status
            if status != 1:
                assert self.pam.active_grants(World.id(name)) == []
                assert not self.pam.is_account_allowed(self.device[name])

    @invariant()
    def receipts_only_from_oracle(self) -> None:
        for request_id, action in itertools.product(self.reqs, (A_UNLOCK, A_ADD_MEMBER, A_REMOVE_MEMBER)):
            receipt = self.pam.receipt(request_id, action)
            if (request_id, action) in self.receipts:
                assert receipt.oracle in (self.world.oracle, self.world.other_oracle)
            else:
                assert receipt.outcome == 0

    @invariant()
    def governance_only_by_quorum(self) -> None:
        assert self.pam.council_threshold() == self.threshold
        assert self.pam.council_members() == list(self.world.council)
        assert not self.pam.bootstrapping()


def test_state_machine(_pam_base: Any, world: World) -> None:
    """Bounded by the loaded hypothesis profile (`ci` by default, `long` for the 10k-step run)."""

    class Machine(PamMachine):
        pass

    Machine.pam, Machine.world = _pam_base, world
    STATS.update(dict.fromkeys(STATS, 0))
    run_state_machine_as_test(Machine, settings=settings(stateful_step_count=30))
    print("\nstate machine:", ", ".join(f"{value} {key}" for key, value in STATS.items()))
    assert STATS["succeeded"] > 0 and STATS["reverted"] > 0
