"""The shipped deployment example is safe as shipped: deployed through the real plan, one key cannot hold Domain Admins.

The file is read by ``sdk.chain.deployer.load_plan`` and applied with the calls ``sdk.chain.deployer.deploy_plan`` sends
(``bootstrap_calls``), here from titanoboa so that the example's fixed addresses can act without their keys.
The plan's council becomes a Council contract; PamChain is bound to it; `end_bootstrap` is the council's call,
every other bootstrap call is PamChain's.
"""

from pathlib import Path

import boa
import pytest
from eth_utils import keccak
from pamchain.sdk.chain.deployer import bootstrap_calls, load_plan
from pamkit import ALARM_BREAK_GLASS, ALARM_UNLOCK_LIMIT, PENDING, events, one_event

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "deploy.example.toml"
DOMAIN_ADMINS = bytes.fromhex(
    "285ae272b90dc2ca7fe7172736d490f4d41c6d3d670a60b1ab8b56b271dac7a3"
)  # keyed id of CN=Domain Admins (the example's)
ALICE, BOB = "0x5555555555555555555555555555555555555555", "0x6666666666666666666666666666666666666666"


def _deploy(plan, deployer, council_deployer, pam_deployer):
    """Council then PamChain from `plan`, by `deployer` (not bootstrapped)."""
    with boa.env.prank(deployer):
        council = council_deployer.deploy(
            list(plan.council), plan.threshold, plan.proposal_ttl, plan.bootstrap_ttl
        )
        return council, pam_deployer.deploy(council.address)


@pytest.fixture
def example(council_deployer, pam_deployer):
    """Council and PamChain deployed and bootstrapped from docs/deploy/deploy.example.toml."""
    plan = load_plan(EXAMPLE)
    deployer = boa.env.generate_address("example-deployer")
    council, pam = _deploy(plan, deployer, council_deployer, pam_deployer)
    with boa.env.prank(deployer):
        for fn, args in bootstrap_calls(plan):
            getattr(council if fn == "end_bootstrap" else pam, fn)(*args)
    return pam, deployer


def test_example__bootstrap_ended_and_bounded(example):
    pam, deployer = example
    assert not boa.env.lookup_contract(pam.council()).bootstrapping()
    assert not pam.is_account_allowed(deployer)
    assert load_plan(EXAMPLE).bootstrap_ttl == 86400


def test_example__break_glass_alone__never_active(example):
    pam, _ = example
    with boa.env.prank(ALICE):
        request_id = pam.request_elevation(DOMAIN_ADMINS, 900, keccak(text="why"), keccak(text="t"), True)
    assert one_event(pam, "Alarm").kind == ALARM_BREAK_GLASS
    assert events(pam, "GrantActivated") == []
    assert pam.status_of(request_id) == PENDING
    assert not pam.is_active(request_id)
    with boa.env.prank(ALICE), boa.reverts("requests: self-approval"):
        pam.approve(request_id)
    # Nor can she stack a second break-glass request into a grant while the first waits.
    with boa.env.prank(ALICE):
        second = pam.request_elevation(DOMAIN_ADMINS, 900, keccak(text="why"), keccak(text="t"), True)
    assert pam.status_of(second) == PENDING


def test_example__approver_not_a_requester(example):
    pam, _ = example
    with boa.env.prank(BOB), boa.reverts("requests: not eligible"):
        pam.request_elevation(DOMAIN_ADMINS, 900, keccak(text="why"), keccak(text="t"), True)


def test_example__unlock_rate_limited(example):
    pam, _ = example
    with boa.env.prank(ALICE):
        for _ in range(3):
            pam.request_unlock()
        assert one_event(pam, "Alarm").kind == ALARM_UNLOCK_LIMIT
        with boa.reverts("requests: unlock limit"):
            pam.request_unlock()


def test_example__old_zero_quorum_break_glass__refused(example, council_deployer, pam_deployer, tmp_path):
    text = EXAMPLE.read_text().replace("break_glass_approvals = 1", "break_glass_approvals = 0")
    unsafe = tmp_path / "unsafe.toml"
    unsafe.write_text(text)
    plan = load_plan(unsafe)
    pam, deployer = example
    policy = next(c for c in bootstrap_calls(plan) if c[0] == "set_policy" and c[1][0] == DOMAIN_ADMINS)
    with boa.env.prank(deployer), boa.reverts("council: not governance"):
        pam.set_policy(*policy[1])
    fresh_deployer = boa.env.generate_address("unsafe-deployer")
    _, fresh = _deploy(plan, fresh_deployer, council_deployer, pam_deployer)
    with boa.env.prank(fresh_deployer), boa.reverts("policies: zero break-glass quorum"):
        fresh.set_policy(*policy[1])
