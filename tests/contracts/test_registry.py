# Over 500 lines on purpose: one test per rule and per refusal of the registry module (roles, oracles, principals, policies, permissioning), kept beside each other.
"""Roles, oracles, principals, policies and account permissioning: the governed registry."""

import boa
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from pamkit import (
    DAY,
    DOMAIN,
    ENC_KEY,
    GROUP,
    HOUR,
    MAX_PENDING,
    OPERATOR_ROLE,
    ORACLE_ROLE,
    OTHER_DOMAIN,
    OTHER_ENC_KEY,
    P_ACTIVE,
    P_NONE,
    PASSWORD_RESET_TARGET,
    UNLOCK_TARGET,
    ZERO32,
    ZERO_ADDRESS,
    World,
    events,
    h,
    one_event,
)


def test_constants__match_docs(pam):
    assert pam.UNLOCK_TARGET() == UNLOCK_TARGET
    assert pam.PASSWORD_RESET_TARGET() == PASSWORD_RESET_TARGET
    assert (pam.KIND_UNLOCK(), pam.KIND_ELEVATE(), pam.KIND_PASSWORD_RESET()) == (1, 2, 3)
    statuses = [
        pam.STATUS_NONE(),
        pam.STATUS_PENDING(),
        pam.STATUS_APPROVED(),
        pam.STATUS_DENIED(),
        pam.STATUS_CANCELLED(),
        pam.STATUS_EXPIRED(),
        pam.STATUS_ACTIVE(),
        pam.STATUS_ENDED(),
        pam.STATUS_FULFILLED(),
        pam.STATUS_FAILED(),
    ]
    assert statuses == list(range(10))
    assert (pam.END_EXPIRED(), pam.END_REVOKED(), pam.END_SUSPENDED()) == (1, 2, 3)
    actions = (
        pam.ACTION_UNLOCK(),
        pam.ACTION_ADD_MEMBER(),
        pam.ACTION_REMOVE_MEMBER(),
        pam.ACTION_RESET_PASSWORD(),
    )
    assert actions == (1, 2, 3, 4)
    assert (pam.OUTCOME_APPLIED(), pam.OUTCOME_FAILED()) == (1, 2)
    assert (pam.ALARM_BREAK_GLASS(), pam.ALARM_DRIFT()) == (1, 2)
    assert (pam.PRINCIPAL_NONE(), pam.PRINCIPAL_ACTIVE(), pam.PRINCIPAL_SUSPENDED()) == (0, 1, 2)


# -- roles ------------------------------------------------------------------------------------------


def test_set_roles__sets_and_clears(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_roles(world.stranger, OPERATOR_ROLE)
        event = one_event(pam, "RolesSet")
        assert (event.account, event.roles) == (world.stranger, OPERATOR_ROLE)
        assert pam.has_role(world.stranger, OPERATOR_ROLE)
        assert not pam.has_role(world.stranger, ORACLE_ROLE)
        pam.set_roles(world.stranger, 0)
    assert pam.roles_of(world.stranger) == 0


def test_set_roles__zero_address__reverts(pam, world):
    with boa.env.prank(world.deployer), boa.reverts("roles: zero address"):
        pam.set_roles(ZERO_ADDRESS, OPERATOR_ROLE)


def test_set_roles__not_governance__reverts(governed, world):
    with boa.env.prank(world.operator), boa.reverts("council: not governance"):
        governed.set_roles(world.operator, ORACLE_ROLE | OPERATOR_ROLE)


# -- oracles ----------------------------------------------------------------------------------------


def test_set_oracle__registers_and_grants_role(pam, world):
    assert pam.is_domain_oracle(DOMAIN, world.oracle)
    assert not pam.is_domain_oracle(DOMAIN, world.other_oracle)
    assert pam.is_domain_oracle(OTHER_DOMAIN, world.other_oracle)
    assert pam.oracle_enc_pubkey(DOMAIN) == ENC_KEY
    assert pam.has_role(world.oracle, ORACLE_ROLE)
    assert pam.oracle_domain_count(world.oracle) == 1


def test_set_oracle__adds_a_second_oracle(pam, world):
    second = boa.env.generate_address("second_oracle")
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, second, h("new key"))
    roles = events(pam, "RolesSet")
    assert [(e.account, e.roles) for e in roles] == [(second, ORACLE_ROLE)]
    event = one_event(pam, "OracleSet")
    assert (event.domain, event.oracle, event.enc_pubkey, event.active) == (
        DOMAIN,
        second,
        h("new key"),
        True,
    )
    assert pam.is_domain_oracle(DOMAIN, world.oracle)
    assert pam.is_domain_oracle(DOMAIN, second)
    assert pam.has_role(world.oracle, ORACLE_ROLE)
    assert pam.has_role(second, ORACLE_ROLE)
    assert pam.oracle_enc_pubkey(DOMAIN) == h("new key")  # one key per domain, held by all its oracles


def test_set_oracle__serves_two_domains(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_oracle(OTHER_DOMAIN, world.oracle, OTHER_ENC_KEY)
    roles = one_event(pam, "RolesSet")  # re-stated: it held ORACLE already
    assert (roles.account, roles.roles) == (world.oracle, ORACLE_ROLE)
    assert pam.is_domain_oracle(OTHER_DOMAIN, world.oracle)
    assert pam.is_domain_oracle(OTHER_DOMAIN, world.other_oracle)
    assert pam.oracle_domain_count(world.oracle) == 2


def test_set_oracle__key_rotation_only(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, world.oracle, h("rotated"))
    assert events(pam, "RolesSet") == []
    event = one_event(pam, "OracleSet")
    assert (event.oracle, event.enc_pubkey, event.active) == (world.oracle, h("rotated"), True)
    assert pam.oracle_enc_pubkey(DOMAIN) == h("rotated")
    assert pam.oracle_domain_count(world.oracle) == 1


@pytest.mark.parametrize(
    ("domain", "oracle", "key", "reason"),
    [
        (ZERO32, "x", h("k"), "oracles: zero domain"),
        (DOMAIN, ZERO_ADDRESS, h("k"), "oracles: zero address"),
        (DOMAIN, "x", ZERO32, "oracles: zero key"),
    ],
)
def test_set_oracle__bad_args__reverts(pam, world, domain, oracle, key, reason):
    with boa.env.prank(world.deployer), boa.reverts(reason):
        pam.set_oracle(domain, world.oracle if oracle == "x" else oracle, key)


def test_set_oracle__not_governance__reverts(governed, world):
    with boa.env.prank(world.oracle), boa.reverts("council: not governance"):
        governed.set_oracle(DOMAIN, world.oracle, h("k"))


def test_remove_oracle__last_domain__withdraws_role(pam, world):
    with boa.env.prank(world.deployer):
        pam.remove_oracle(DOMAIN, world.oracle)
    roles = one_event(pam, "RolesSet")
    assert (roles.account, roles.roles) == (world.oracle, 0)
    event = one_event(pam, "OracleSet")
    assert (event.domain, event.oracle, event.enc_pubkey, event.active) == (
        DOMAIN,
        world.oracle,
        ENC_KEY,
        False,
    )
    assert not pam.is_domain_oracle(DOMAIN, world.oracle)
    assert not pam.has_role(world.oracle, ORACLE_ROLE)
    assert pam.oracle_domain_count(world.oracle) == 0
    assert not pam.is_account_allowed(world.oracle)


def test_remove_oracle__keeps_role_while_serving_another_domain(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_oracle(OTHER_DOMAIN, world.oracle, OTHER_ENC_KEY)
        pam.remove_oracle(DOMAIN, world.oracle)
    assert events(pam, "RolesSet") == []
    assert one_event(pam, "OracleSet").active is False
    assert not pam.is_domain_oracle(DOMAIN, world.oracle)
    assert pam.is_domain_oracle(OTHER_DOMAIN, world.oracle)
    assert pam.has_role(world.oracle, ORACLE_ROLE)
    assert pam.oracle_domain_count(world.oracle) == 1


def test_remove_oracle__keeps_other_oracles_of_the_domain(pam, world):
    second = boa.env.generate_address("second_oracle")
    with boa.env.prank(world.deployer):
        pam.set_oracle(DOMAIN, second, ENC_KEY)
        pam.remove_oracle(DOMAIN, world.oracle)
    assert pam.is_domain_oracle(DOMAIN, second)
    assert pam.has_role(second, ORACLE_ROLE)
    assert pam.oracle_enc_pubkey(DOMAIN) == ENC_KEY


def test_remove_oracle__keeps_other_roles(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_roles(world.oracle, ORACLE_ROLE | OPERATOR_ROLE)
        pam.remove_oracle(DOMAIN, world.oracle)
    assert pam.roles_of(world.oracle) == OPERATOR_ROLE


@pytest.mark.parametrize("who", ["stranger", "other_oracle", "removed"])
def test_remove_oracle__not_oracle__reverts(pam, world, who):
    with boa.env.prank(world.deployer):
        if who == "removed":
            pam.remove_oracle(DOMAIN, world.oracle)
        with boa.reverts("oracles: not oracle"):
            pam.remove_oracle(DOMAIN, world.oracle if who == "removed" else getattr(world, who))


def test_remove_oracle__not_governance__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        governed.remove_oracle(DOMAIN, world.oracle)


def test_remove_oracle__through_proposal(council, governed, act, world):
    act.govern(act.proposal(governed, "remove_oracle", OTHER_DOMAIN, world.other_oracle))
    assert one_event(council, "OracleSet", by=governed).active is False
    assert not governed.has_role(world.other_oracle, ORACLE_ROLE)


# Two domains, three accounts: the bootstrapped oracle of each domain and a newcomer.
ORACLE_DOMAINS = (DOMAIN, OTHER_DOMAIN)
ORACLE_ACCOUNTS = ("oracle", "other_oracle", "stranger")
oracle_ops = st.lists(
    st.tuples(
        st.sampled_from(["set", "remove"]), st.sampled_from(ORACLE_DOMAINS), st.sampled_from(ORACLE_ACCOUNTS)
    ),
    max_size=12,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=oracle_ops)
def test_oracles__role_iff_serving_a_domain(pam, world, ops):
    """For any sequence of set_oracle/remove_oracle, ORACLE is held exactly by the accounts serving a domain."""
    serves = {(DOMAIN, "oracle"), (OTHER_DOMAIN, "other_oracle")}  # as bootstrapped
    with boa.env.anchor(), boa.env.prank(world.deployer):
        for op, domain, name in ops:
            account = getattr(world, name)
            if op == "set":
                pam.set_oracle(domain, account, h("key"))
                serves.add((domain, name))
            elif (domain, name) in serves:
                pam.remove_oracle(domain, account)
                serves.discard((domain, name))
            else:
                with boa.reverts("oracles: not oracle"):
                    pam.remove_oracle(domain, account)
            for each in ORACLE_ACCOUNTS:
                address = getattr(world, each)
                domains = [d for d in ORACLE_DOMAINS if (d, each) in serves]
                assert pam.has_role(address, ORACLE_ROLE) == bool(domains), (each, ops)
                assert pam.oracle_domain_count(address) == len(domains)
                for d in ORACLE_DOMAINS:
                    assert pam.is_domain_oracle(d, address) == ((d, each) in serves)


# -- principals -------------------------------------------------------------------------------------


def test_enrol__binds_device(pam, world):
    device = boa.env.generate_address("frank")
    with boa.env.prank(world.deployer):
        pam.enrol(device, h("frank"), DOMAIN)
    event = one_event(pam, "PrincipalEnrolled")
    assert (event.directory_id, event.device, event.domain) == (h("frank"), device, DOMAIN)
    assert pam.principal(h("frank")) == (device, DOMAIN, P_ACTIVE)
    assert pam.principal_of(device) == h("frank")
    assert pam.is_account_allowed(device)


@pytest.mark.parametrize(
    ("device", "directory_id", "domain", "reason"),
    [
        (ZERO_ADDRESS, "frank", DOMAIN, "principals: zero address"),
        ("new", None, DOMAIN, "principals: zero id"),
        ("new", "frank", ZERO32, "principals: zero domain"),
        ("new", "alice", DOMAIN, "principals: already enrolled"),
        ("alice", "frank", DOMAIN, "principals: device in use"),
    ],
)
def test_enrol__bad_args__reverts(pam, world, device, directory_id, domain, reason):
    address = {"new": boa.env.generate_address("new"), "alice": world.devices["alice"]}.get(device, device)
    ident = (
        ZERO32
        if directory_id is None
        else World.id(directory_id)
        if directory_id == "alice"
        else h(directory_id)
    )
    with boa.env.prank(world.deployer), boa.reverts(reason):
        pam.enrol(address, ident, domain)


def test_enrol__not_governance__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        governed.enrol(world.stranger, h("x"), DOMAIN)


def test_rotate_device__old_key_loses_power(pam, world):
    new_device = boa.env.generate_address("alice-phone-2")
    old_device = world.devices["alice"]
    with boa.env.prank(world.deployer):
        pam.rotate_device(World.id("alice"), new_device)
    event = one_event(pam, "DeviceRotated")
    assert (event.directory_id, event.old_device, event.new_device) == (
        World.id("alice"),
        old_device,
        new_device,
    )
    assert pam.principal_of(old_device) == ZERO32
    assert pam.principal_of(new_device) == World.id("alice")
    assert pam.principal(World.id("alice")).device == new_device
    assert not pam.is_account_allowed(old_device)
    with boa.env.prank(old_device), boa.reverts("requests: not active principal"):
        pam.request_unlock()
    with boa.env.prank(new_device):
        assert pam.request_unlock() == 1


@pytest.mark.parametrize(
    ("directory_id", "device", "reason"),
    [
        ("nobody", "new", "principals: unknown principal"),
        ("alice", ZERO_ADDRESS, "principals: zero address"),
        ("alice", "bob", "principals: device in use"),
    ],
)
def test_rotate_device__bad_args__reverts(pam, world, directory_id, device, reason):
    address = {"new": boa.env.generate_address("new"), "bob": world.devices["bob"]}.get(device, device)
    with boa.env.prank(world.deployer), boa.reverts(reason):
        pam.rotate_device(World.id(directory_id), address)


def test_rotate_device__not_governance__reverts(governed, world):
    with boa.env.prank(world.devices["alice"]), boa.reverts("council: not governance"):
        governed.rotate_device(World.id("alice"), world.stranger)


# -- policies ---------------------------------------------------------------------------------------


def _policy_args(**overrides):
    args = {
        "target": h("group:new"),
        "domain": DOMAIN,
        "approvals_required": 2,
        "max_duration": 4 * HOUR,
        "max_pending": MAX_PENDING,
        "self_service": False,
        "enabled": True,
        "break_glass_approvals": 1,
        "break_glass_max_duration": HOUR,
        "approvers": [World.id("bob"), World.id("carol")],
        "requesters": [World.id("alice")],
        "break_glass_cooldown": HOUR,
        "unlock_limit": 0,
        "unlock_window": 0,
    }
    args.update(overrides)
    return list(args.values())


def test_set_policy__stores_and_logs(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(*_policy_args())
    event = one_event(pam, "PolicySet")
    assert (event.target, event.domain, event.approvals_required, event.max_duration) == (
        h("group:new"),
        DOMAIN,
        2,
        4 * HOUR,
    )
    assert (event.break_glass_approvals, event.break_glass_max_duration, event.enabled) == (1, HOUR, True)
    assert list(event.approvers) == [World.id("bob"), World.id("carol")]
    policy = pam.policy(h("group:new"))
    assert (policy.domain, policy.approvals_required, policy.max_pending, policy.self_service) == (
        DOMAIN,
        2,
        MAX_PENDING,
        False,
    )
    assert pam.policy_approvers(h("group:new")) == [World.id("bob"), World.id("carol")]
    assert pam.is_approver(h("group:new"), World.id("bob"))


def test_set_policy__stores_and_logs_limits(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *_policy_args(requesters=[World.id("alice"), World.id("erin")], break_glass_cooldown=DAY)
        )
    limits = one_event(pam, "PolicyLimitsSet")
    assert (limits.target, limits.break_glass_cooldown, limits.unlock_limit, limits.unlock_window) == (
        h("group:new"),
        DAY,
        0,
        0,
    )
    assert list(limits.requesters) == [World.id("alice"), World.id("erin")]
    assert pam.policy(h("group:new")).break_glass_cooldown == DAY
    assert pam.policy_requesters(h("group:new")) == [World.id("alice"), World.id("erin")]
    assert pam.is_requester(h("group:new"), World.id("erin"))
    assert not pam.is_requester(h("group:new"), World.id("bob"))


def test_set_policy__replaces_requester_set(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(*_policy_args(requesters=[World.id("alice")]))
        pam.set_policy(*_policy_args(requesters=[World.id("erin")]))
    assert one_event(pam, "PolicyLimitsSet").requesters == [World.id("erin")]
    assert not pam.is_requester(h("group:new"), World.id("alice"))
    assert pam.is_requester(h("group:new"), World.id("erin"))


def test_set_policy__unlock_limit_stored(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(*_policy_args(target=UNLOCK_TARGET, requesters=[], unlock_limit=5, unlock_window=HOUR))
    limits = one_event(pam, "PolicyLimitsSet")
    assert (limits.target, limits.unlock_limit, limits.unlock_window, list(limits.requesters)) == (
        UNLOCK_TARGET,
        5,
        HOUR,
        [],
    )
    policy = pam.policy(UNLOCK_TARGET)
    assert (policy.unlock_limit, policy.unlock_window) == (5, HOUR)


def test_set_policy__replaces_approver_set(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *_policy_args(approvals_required=1, approvers=[World.id("erin")], break_glass_max_duration=0)
        )
    assert one_event(pam, "PolicySet").approvers == [World.id("erin")]
    assert not pam.is_approver(h("group:new"), World.id("bob"))
    assert pam.is_approver(h("group:new"), World.id("erin"))
    assert pam.policy_approvers(h("group:new")) == [World.id("erin")]


def test_set_policy__self_service_without_approvers(pam, world):
    with boa.env.prank(world.deployer):
        pam.set_policy(
            *_policy_args(
                approvals_required=0,
                self_service=True,
                approvers=[],
                break_glass_approvals=0,
                break_glass_max_duration=0,
            )
        )
    assert one_event(pam, "PolicySet").self_service


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"target": ZERO32}, "policies: zero target"),
        ({"domain": ZERO32}, "policies: zero domain"),
        ({"max_pending": 0}, "policies: zero max_pending"),
        ({"approvals_required": 0}, "policies: bad approvals"),
        ({"approvals_required": 3}, "policies: bad approvals"),
        ({"self_service": True}, "policies: bad approvals"),
        ({"break_glass_max_duration": 5 * HOUR}, "policies: bad break-glass"),
        ({"break_glass_approvals": 3}, "policies: bad break-glass"),
        ({"approvers": [World.id("bob"), ZERO32]}, "policies: zero approver"),
        ({"approvers": [World.id("bob"), World.id("bob")]}, "policies: duplicate approver"),
        ({"break_glass_approvals": 0}, "policies: zero break-glass quorum"),
        ({"requesters": [World.id("alice"), ZERO32]}, "policies: zero requester"),
        ({"requesters": [World.id("alice"), World.id("alice")]}, "policies: duplicate requester"),
        (
            {"target": UNLOCK_TARGET, "unlock_limit": 3, "unlock_window": HOUR},
            "policies: requesters on action",
        ),
        ({"target": PASSWORD_RESET_TARGET}, "policies: requesters on action"),
        ({"target": UNLOCK_TARGET, "requesters": [], "unlock_window": HOUR}, "policies: no unlock limit"),
        ({"target": UNLOCK_TARGET, "requesters": [], "unlock_limit": 3}, "policies: no unlock limit"),
    ],
)
def test_set_policy__bad_args__reverts(pam, world, overrides, reason):
    with boa.env.prank(world.deployer), boa.reverts(reason):
        pam.set_policy(*_policy_args(**overrides))


def test_set_policy__not_governance__reverts(governed, world):
    with boa.env.prank(world.council[0]), boa.reverts("council: not governance"):
        governed.set_policy(*_policy_args())


def test_set_policy__through_proposal(council, governed, act):
    act.govern(act.proposal(governed, "set_policy", *_policy_args()))
    assert one_event(council, "PolicySet", by=governed).target == h("group:new")
    assert governed.policy(h("group:new")).domain == DOMAIN


# -- permissioning ----------------------------------------------------------------------------------


def test_is_account_allowed__who(pam, world):
    assert pam.is_account_allowed(world.council[0])
    assert pam.is_account_allowed(world.deployer)  # bootstrapper while bootstrapping
    assert pam.is_account_allowed(world.operator)
    assert pam.is_account_allowed(world.oracle)
    assert pam.is_account_allowed(world.devices["alice"])
    assert not pam.is_account_allowed(world.stranger)
    assert not pam.is_account_allowed(ZERO_ADDRESS)


def test_is_account_allowed__suspended_device__false(pam, world):
    with boa.env.prank(world.council[0]):
        pam.suspend(World.id("alice"))
    assert not pam.is_account_allowed(world.devices["alice"])
    assert pam.principal(World.id("nobody")) == (ZERO_ADDRESS, ZERO32, P_NONE)
    assert pam.policy(GROUP).enabled
