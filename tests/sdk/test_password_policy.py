"""PasswordPolicy: every rule, its reason, and that no reason repeats the password."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamchain.sdk.directory import AccountRef, PasswordRejected
from pamchain.sdk.directory.password_policy import (
    PasswordPolicy,
    Rule,
    character_classes,
    load_breached,
    shipped_breached_passwords,
)

GOOD = "Quiet-Lantern-Orbit-58"


def rules(password: str, account: str | None = "jdoe", policy: PasswordPolicy | None = None) -> set[Rule]:
    return {v.rule for v in (policy or PasswordPolicy()).violations(password, account)}


def test_good_password__no_violation() -> None:
    assert rules(GOOD) == set()
    PasswordPolicy().check(AccountRef("jdoe"), GOOD)


def test_too_short() -> None:
    assert rules("Qx-7Lantern") == {Rule.TOO_SHORT}  # 11 characters
    assert rules("Qx-7Lanterns") == set()  # 12
    assert rules("Qx-7Lantern", policy=PasswordPolicy(min_length=8)) == set()


def test_too_long() -> None:
    assert Rule.TOO_LONG in rules("Aa1-" * 65)


@pytest.mark.parametrize(
    ("password", "classes"),
    [
        ("lanternorbitquiet", 1),
        ("lanternorbitquiet58", 2),
        ("LANTERN-ORBIT-QUIET", 2),
        ("Lanternorbitquiet", 2),
    ],
)
def test_too_few_classes(password: str, classes: int) -> None:
    assert len(character_classes(password)) == classes
    assert Rule.TOO_FEW_CLASSES in rules(password)


@pytest.mark.parametrize("password", ["Lanternorbitquiet58", "lantern-orbit-58", "LANTERN-orbit-quiet"])
def test_three_classes__enough(password: str) -> None:
    assert Rule.TOO_FEW_CLASSES not in rules(password)


def test_caseless_letters_count_as_a_class() -> None:
    assert character_classes("漢字abc1") == {"other letter", "lowercase", "digit"}


def test_contains_account_name__case_insensitive() -> None:
    assert rules("xx-JDoe-Lantern-58", account="jdoe") == {Rule.CONTAINS_ACCOUNT_NAME}
    assert rules(GOOD, account="orbit") == {Rule.CONTAINS_ACCOUNT_NAME}


def test_short_account_name__not_checked() -> None:
    # AD ignores names under 3 characters: "al" would match too many passwords by chance.
    assert rules("Quiet-Al-Lantern-58", account="al") == set()
    assert rules(GOOD, account=None) == set()


@pytest.mark.parametrize(
    "password", ["Password123!", "Welcome2024!", "SUMMER2023!!", "P@ssw0rd2024", "Qwerty123456"]
)
def test_breached__case_insensitive(password: str) -> None:
    assert Rule.BREACHED in rules(password)


def test_shipped_list__size_and_format() -> None:
    words = shipped_breached_passwords()
    assert len(words) > 2000
    assert all(w == w.casefold() and w.strip() == w and w for w in words)
    assert GOOD.casefold() not in words


def test_custom_breached_list() -> None:
    policy = PasswordPolicy(breached=load_breached(["# comment", GOOD, ""]))
    assert rules(GOOD, policy=policy) == {Rule.BREACHED}
    # The custom list replaces the shipped one; the strength estimate still judges the password on its own.
    assert rules("Password123!", policy=policy) == {Rule.TOO_GUESSABLE}
    assert rules("Password123!", policy=PasswordPolicy(breached=frozenset(), min_score=0)) == set()


def test_control_character() -> None:
    assert Rule.CONTROL_CHARACTER in rules("Quiet-Lantern\x00-58")


def test_check__raises_with_every_reason_and_no_echo() -> None:
    with pytest.raises(PasswordRejected) as rejected:
        PasswordPolicy().check(AccountRef("jdoe"), "jdoe1")
    assert rejected.value.account == AccountRef("jdoe")
    assert len(rejected.value.reasons) == 4  # too short, too few classes, contains the name, guessable
    assert "jdoe1" not in str(rejected.value).replace("for jdoe:", "")


_FIXED_REASONS = {
    v.reason
    for sample in (
        "a",
        "a" * 200,
        "abc\x01",
        "password",
        "svc-account-1",
        "Aa1!" * 4,
        "aaaaaaaaaaaaaaaa",
        "1" * 16,
    )
    for v in PasswordPolicy().violations(sample, "svc-account")
} | {
    f"is too easy to guess (strength {score} of 4, needs 3): use a longer phrase of unrelated words"
    for score in range(3)
}


@given(st.text(min_size=1, max_size=40))
def test_reasons_never_echo_the_password(password: str) -> None:
    found = PasswordPolicy().violations(password, "svc-account")
    for violation in found:
        # Reasons are fixed texts: a short password may happen to be a word of one ("uppe" in "uppercase"),
        # so what must hold is that the reason reads the same whatever the password's own characters.
        if len(password) >= 4 and password in violation.reason:
            assert violation.reason in _FIXED_REASONS
