"""LdapDirectory against a real Samba AD DC over LDAPS, certificate verification on."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from pamchain.sdk.directory import (
    AccountNotFound,
    AccountRef,
    AuthenticationFailed,
    DirectoryUnavailable,
    GroupNotFound,
    GroupRef,
    HmacGuidResolver,
    PasswordRejected,
    TlsVerificationFailed,
    pseudonymous_id,
)
from pamchain.sdk.directory.ldap import LdapConfig, LdapDirectory
from pamchain.sdk.directory.password_policy import PasswordPolicy
from pamchain.sdk.oracle.assembly import id_resolver
from pamchain.sdk.oracle.config import OracleConfig

pytestmark = pytest.mark.integration

NEW_PASSWORD = "Rotated-Secret-Value-913"
TEST_PASSWORD = "Integration-Test-Pw-42!"  # what the `ad_user` fixture sets (conftest.TEST_PASSWORD)


def _reason(exc_info: pytest.ExceptionInfo[AuthenticationFailed]) -> str:
    return exc_info.value.reason


def test_ldap_config__from_mapping() -> None:
    config = LdapConfig.from_mapping(
        {
            "url": "ldaps://dc1.corp.example",
            "bind_dn": "CN=svc-pamchain,OU=Service,DC=corp,DC=example",
            "base_dn": "DC=corp,DC=example",
            "password_file": "/etc/pamchain/ldap-password",
            "valid_names": ["dc1.corp.example"],
        }
    )
    assert config.valid_names == ("dc1.corp.example",)
    with pytest.raises(ValueError, match="unknown"):
        LdapConfig.from_mapping({"url": "ldaps://x", "pasword_file": "/x"})
    with pytest.raises(ValueError, match="exactly one"):
        LdapConfig(url="ldaps://x", bind_dn="x", base_dn="DC=x")
    with pytest.raises(ValueError, match="disable"):
        LdapConfig(url="ldaps://x", bind_dn="x", base_dn="DC=x", password_env="X", valid_names=("*",))
    with pytest.raises(ValueError, match="ldaps"):
        LdapConfig(url="http://x", bind_dn="x", base_dn="DC=x", password_env="X")


def test_fixture_password__matches(ad_password: str) -> None:
    assert ad_password == TEST_PASSWORD


def test_account__fresh_user__enabled_unlocked(ldap_directory: LdapDirectory, ad_user) -> None:
    account = ldap_directory.account(ad_user.ref)
    assert account == ad_user
    assert len(account.object_guid) == 16
    assert not account.locked and account.enabled and not account.must_change_password


def test_three_bad_binds__lock__unlock__right_password_binds(ldap_directory: LdapDirectory, ad_user) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationFailed) as bad:
            ldap_directory.authenticate(ad_user.ref, "Wrong-Password-123!")
        assert _reason(bad) == AuthenticationFailed.INVALID_CREDENTIALS
    assert ldap_directory.is_locked(ad_user.ref)
    with pytest.raises(AuthenticationFailed) as locked:
        ldap_directory.authenticate(ad_user.ref, TEST_PASSWORD)  # right password, still refused (data 775)
    assert _reason(locked) == AuthenticationFailed.ACCOUNT_LOCKED

    ldap_directory.unlock(ad_user.ref)

    assert not ldap_directory.is_locked(ad_user.ref)
    ldap_directory.authenticate(ad_user.ref, TEST_PASSWORD)


def test_unlock__not_locked__is_a_no_op(ldap_directory: LdapDirectory, ad_user) -> None:
    ldap_directory.unlock(ad_user.ref)
    ldap_directory.unlock(ad_user.ref)
    ldap_directory.authenticate(ad_user.ref, TEST_PASSWORD)


def test_add_member_twice__remove_twice__idempotent(ldap_directory: LdapDirectory, ad_user, ad_group) -> None:
    group, account = ad_group.ref, ad_user.ref
    assert not ldap_directory.is_member(group, account)
    ldap_directory.add_member(group, account)
    ldap_directory.add_member(group, account)  # 68 entryAlreadyExists: success
    assert ldap_directory.is_member(group, account)
    assert ldap_directory.list_members(group) == frozenset({account})

    ldap_directory.remove_member(group, account)
    ldap_directory.remove_member(group, account)  # 53 unwillingToPerform: success
    assert not ldap_directory.is_member(group, account)
    assert ldap_directory.list_members(group) == frozenset()


def test_membership__refs_compare_case_insensitively(
    ldap_directory: LdapDirectory, ad_user, ad_group
) -> None:
    shouting = AccountRef(ad_user.sam_account_name.upper())
    ldap_directory.add_member(GroupRef(ad_group.dn.upper()), shouting)
    assert ldap_directory.is_member(ad_group.ref, ad_user.ref)
    assert ldap_directory.list_members(ad_group.ref) == {ad_user.ref}


def test_list_members__several(ldap_directory: LdapDirectory, ad, ad_group) -> None:
    users = [ad.user() for _ in range(3)]
    for user in users:
        ldap_directory.add_member(ad_group.ref, user.ref)
    assert ldap_directory.list_members(ad_group.ref) == {u.ref for u in users}


def test_membership__unknown_group__group_not_found(ldap_directory: LdapDirectory, ad_user) -> None:
    missing = GroupRef(f"CN=nope-{secrets.token_hex(4)},CN=Users,{ldap_directory.config.base_dn}")
    with pytest.raises(GroupNotFound):
        ldap_directory.add_member(missing, ad_user.ref)
    with pytest.raises(GroupNotFound):
        ldap_directory.list_members(missing)
    with pytest.raises(GroupNotFound):
        ldap_directory.is_member(missing, ad_user.ref)


def test_unknown_account__account_not_found(ldap_directory: LdapDirectory, ad_group) -> None:
    ghost = AccountRef(f"ghost{secrets.token_hex(4)}")
    with pytest.raises(AccountNotFound):
        ldap_directory.unlock(ghost)
    with pytest.raises(AccountNotFound):
        ldap_directory.add_member(ad_group.ref, ghost)


def test_reset_password__new_binds__old_fails(ldap_directory: LdapDirectory, ad_user) -> None:
    ldap_directory.reset_password(ad_user.ref, NEW_PASSWORD)

    ldap_directory.authenticate(ad_user.ref, NEW_PASSWORD)
    with pytest.raises(AuthenticationFailed) as old:
        ldap_directory.authenticate(ad_user.ref, TEST_PASSWORD)  # data 52e: `old password allowed period = 0`
    assert _reason(old) == AuthenticationFailed.INVALID_CREDENTIALS


def test_reset_password__must_change__bind_says_so(ldap_directory: LdapDirectory, ad_user) -> None:
    ldap_directory.reset_password(ad_user.ref, NEW_PASSWORD, must_change=True)
    assert ldap_directory.account(ad_user.ref).must_change_password
    with pytest.raises(AuthenticationFailed) as must:
        ldap_directory.authenticate(ad_user.ref, NEW_PASSWORD)  # data 773
    assert _reason(must) == AuthenticationFailed.MUST_CHANGE_PASSWORD


def test_reset_password__weak__rejected_by_ad_without_echo(ldap_config: LdapConfig, ad_user) -> None:
    # No local policy: this is AD's own refusal (19 constraintViolation).
    with LdapDirectory(ldap_config, policy=None) as directory:
        with pytest.raises(PasswordRejected) as rejected:
            directory.reset_password(ad_user.ref, "abc")
        directory.authenticate(ad_user.ref, TEST_PASSWORD)  # unchanged
    assert "abc" not in str(rejected.value) and "abc" not in repr(rejected.value)
    assert "0000052D" in str(rejected.value)


def test_reset_password__local_policy__precise_reason(ldap_config: LdapConfig, ad_user) -> None:
    directory = LdapDirectory(ldap_config, policy=PasswordPolicy())
    with directory, pytest.raises(PasswordRejected) as rejected:
        directory.reset_password(ad_user.ref, "Password123!")  # passes AD's rules, but breached
    assert any("breached" in r for r in rejected.value.reasons)
    assert "Password123" not in str(rejected.value)


def test_reset_password__guessable__refused_by_the_estimate_before_ad(
    ldap_config: LdapConfig, ad_user
) -> None:
    # AD's complexity rule takes it (13 characters, 4 classes) and it is on no breached list; zxcvbn finds it
    # in 10^7 guesses. The phone refuses it with the same verdict (tests/vectors/password-strength.json).
    directory = LdapDirectory(ldap_config, policy=PasswordPolicy())
    with directory:
        with pytest.raises(PasswordRejected) as rejected:
            directory.reset_password(ad_user.ref, "Football#2020")
        directory.authenticate(ad_user.ref, TEST_PASSWORD)  # unchanged
    assert rejected.value.reasons == (
        "is too easy to guess (strength 2 of 4, needs 3): use a longer phrase of unrelated words",
    )
    assert "Football" not in str(rejected.value)


def test_filter_injection__stays_escaped(ldap_directory: LdapDirectory, ad) -> None:
    tricky = ad.user(name=f"o(b){secrets.token_hex(3)}")
    assert ldap_directory.account(tricky.ref).dn == tricky.dn
    for attempt in (
        "*",
        "Administrator)(sAMAccountName=*",
        "*)(|(objectClass=*",
        tricky.sam_account_name[:4] + "*",
    ):
        with pytest.raises(AccountNotFound):
            ldap_directory.account(AccountRef(attempt))


def test_dn_with_special_characters(ldap_directory: LdapDirectory, ad) -> None:
    group = ad.group(name=f"#ops+, x{secrets.token_hex(3)}")  # '#' leading, '+' and ',' escaped in the RDN
    user = ad.user()
    ldap_directory.add_member(group.ref, user.ref)
    assert ldap_directory.is_member(group.ref, user.ref)
    assert ldap_directory.list_members(group.ref) == {user.ref}


def test_resolve__hmac_of_object_guid(ldap_config: LdapConfig, ad_user) -> None:
    key = secrets.token_bytes(32)
    with LdapDirectory(ldap_config, resolver=HmacGuidResolver(key)) as directory:
        assert directory.resolve(pseudonymous_id(key, ad_user.object_guid)) == ad_user.ref


def test_tls__wrong_ca__refused(ldap_config: LdapConfig, tmp_path: Path) -> None:
    # A CA that did not sign the DC's certificate: the handshake must fail although the name would match.
    wrong_ca = tmp_path / "wrong-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=wrong-ca",
         "-keyout", str(tmp_path / "wrong-ca.key"), "-out", str(wrong_ca)],
        check=True, capture_output=True,
    )  # fmt: skip
    with pytest.raises(TlsVerificationFailed, match="not trusted"):
        LdapDirectory(dataclasses.replace(ldap_config, ca_file=wrong_ca)).account(AccountRef("Administrator"))


def test_tls__wrong_name__refused(ldap_config: LdapConfig) -> None:
    for names in ((), ("dc1.evil.example",)):  # no IP SAN in Samba's certificate: the IP alone must not pass
        config = dataclasses.replace(ldap_config, valid_names=names)
        with pytest.raises(TlsVerificationFailed, match="does not match"):
            LdapDirectory(config).account(AccountRef("Administrator"))


def test_starttls_on_389__verified(ldap_config: LdapConfig, samba) -> None:
    config = dataclasses.replace(ldap_config, url=f"ldap://{samba.dc.ip}:389")
    with LdapDirectory(config) as directory:
        assert directory.account(AccountRef("Administrator")).sam_account_name == "Administrator"
    with pytest.raises(TlsVerificationFailed):
        LdapDirectory(dataclasses.replace(config, valid_names=("dc1.evil.example",))).account(
            AccountRef("Administrator")
        )


def test_latency__reused_connection(ldap_directory: LdapDirectory, ad_user, ad_group) -> None:
    ldap_directory.unlock(ad_user.ref)  # warm: the connection is open
    t0 = time.perf_counter()
    for _ in range(10):
        ldap_directory.add_member(ad_group.ref, ad_user.ref)
        ldap_directory.remove_member(ad_group.ref, ad_user.ref)
    per_op = (time.perf_counter() - t0) / 20
    assert per_op < 0.25  # generous bound for a shared 2-core machine; typical is a few ms (lookup + modify)


def test_dc_stopped__unavailable__then_reconnects(ldap_directory: LdapDirectory, samba, ad_user) -> None:
    ldap_directory.account(ad_user.ref)  # an open, bound connection that the stop will break
    samba.stop()
    try:
        with pytest.raises(DirectoryUnavailable):
            ldap_directory.unlock(ad_user.ref)
        with pytest.raises(DirectoryUnavailable):
            ldap_directory.add_member(GroupRef(f"CN=x,{ldap_directory.config.base_dn}"), ad_user.ref)
    finally:
        samba.start()
    ldap_directory.unlock(ad_user.ref)  # the same instance reconnects by itself


# --- effective membership: primary group, nesting, every member class (issue 11, items 3 and 4) ---------------


def test_primary_group__member_delete_refused__membership_seen_and_removed(
    ldap_directory: LdapDirectory, ad_user, ad_group
) -> None:
    """A grantee who makes the privileged group their primary group keeps its SID in their token."""
    user, group = ad_user.ref, ad_group.ref
    ldap_directory.add_member(group, user)
    ldap_directory.set_primary_group(user, group)
    membership = ldap_directory.membership(group, user)
    assert membership.primary and not membership.direct and membership.effective
    assert ldap_directory.is_member(group, user)
    assert any(m.object_guid == ad_user.object_guid and m.primary for m in ldap_directory.members(group))
    ldap_directory.remove_member(group, user)
    after = ldap_directory.membership(group, user)
    assert not after.effective, after
    assert ldap_directory.account(user).primary_group_id == 513  # back to Domain Users


def test_nested_group__effective_member__listed_as_a_group(
    ldap_directory: LdapDirectory, ad, ad_user
) -> None:
    outer, inner = ad.group(), ad.group()
    ldap_directory.add_member(inner.ref, ad_user.ref)
    ldap_directory.add_group_member(outer.ref, inner.ref)
    membership = ldap_directory.membership(outer.ref, ad_user.ref)
    assert membership.nested and not membership.direct and not membership.primary
    members = ldap_directory.members(outer.ref)
    assert {(m.object_guid, m.kind) for m in members} == {(inner.object_guid, "group")}


def test_members__computer_and_foreign_principal_listed(ldap_directory: LdapDirectory, ad, samba) -> None:
    group = ad.group()
    base = ldap_directory.config.base_dn
    computers = [m.dn for m in ldap_directory.members(GroupRef(f"CN=Domain Controllers,CN=Users,{base}"))]
    ldap_directory.add_dn_member(group.ref, computers[0])
    # S-1-5-11 (Authenticated Users) is a well-known foreign security principal in every domain.
    ldap_directory.add_dn_member(group.ref, f"CN=S-1-5-11,CN=ForeignSecurityPrincipals,{base}")
    kinds = sorted(m.kind for m in ldap_directory.members(group.ref))
    assert kinds == ["computer", "foreign"]


def test_account_bound_to_guid__name_reused__not_found(ldap_directory: LdapDirectory, ad) -> None:
    old = ad.user(name=f"r{secrets.token_hex(5)}")
    ldap_directory.delete(old.dn)
    new = ad.user(name=old.sam_account_name)
    assert new.object_guid != old.object_guid
    with pytest.raises(AccountNotFound):
        ldap_directory.account(old.ref)  # bound to the deleted account's GUID: never the new hire
    assert ldap_directory.account(new.ref).object_guid == new.object_guid


def test_cli_directory_id__the_id_the_oracle_resolves(
    ldap_config: LdapConfig, ad_user, tmp_path: Path
) -> None:
    """`pamchain oracle directory-id` gives the enrolment id of an AD account (issue 17 item 7): the HMAC of its
    objectGUID under the oracle's key, which the oracle then resolves back to the same account."""
    from click.testing import CliRunner
    from pamchain.scripts.cli import main

    key = secrets.token_bytes(32)
    (tmp_path / "pseudonym.key").write_text(key.hex() + "\n")  # as docs say: `openssl rand -hex 32`
    config = tmp_path / "oracle.toml"
    config.write_text(
        '[chain]\nrpc_url = "http://127.0.0.1:1"\ndeployment = "d.json"\n'
        '[oracle]\nkeystore = "k.json"\ndomain = "corp.example"\ndc_id = "DC1"\n'
        'pseudonym_key_file = "pseudonym.key"\n'
        f'[directory]\nkind = "ldap"\nurl = "{ldap_config.url}"\nbind_dn = "{ldap_config.bind_dn}"\n'
        f'base_dn = "{ldap_config.base_dn}"\npassword_file = "{ldap_config.password_file}"\n'
        f'ca_file = "{ldap_config.ca_file}"\nvalid_names = {list(ldap_config.valid_names)!r}\n'.replace(
            "'", '"'
        )
    )
    runner = CliRunner()
    name = ad_user.sam_account_name.upper()  # AD names are case-insensitive
    result = runner.invoke(
        main, ["oracle", "directory-id", "--config", str(config), name], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    printed = bytes.fromhex(result.stdout.split()[1].removeprefix("0x"))
    assert printed == pseudonymous_id(key, ad_user.object_guid)
    # The daemon's own resolver, built from the same file, maps it back (they once read the key differently).
    resolver = id_resolver(OracleConfig.load(config))
    with LdapDirectory(ldap_config, resolver=resolver) as directory:
        assert directory.resolve(printed) == ad_user.ref
    unknown = runner.invoke(
        main, ["oracle", "directory-id", "--config", str(config), "nobody-" + secrets.token_hex(3)]
    )
    assert (
        unknown.exit_code == 1 and "no such account" in unknown.stderr and "Traceback" not in unknown.output
    )
