"""Checks a candidate password before the directory does, so a rejection comes with a reason.

Rules: length, character classes (3 of AD's categories), not containing the account name, not in the list of
common/breached passwords shipped in `data/breached-passwords.txt`, and hard enough to guess by Dropbox's zxcvbn
estimator (score at least ``MIN_SCORE``, with the account name as a user input). The phone app runs the same
estimator (zxcvbn 4.4.2, the JavaScript original) on the same input and gives the same verdict:
``tests/vectors/password-strength.json`` holds the shared cases both sides are tested against. No message ever
repeats the password.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

from pamchain.sdk.directory import AccountRef, PasswordRejected


class Rule(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    CONTROL_CHARACTER = "control_character"
    TOO_FEW_CLASSES = "too_few_classes"
    CONTAINS_ACCOUNT_NAME = "contains_account_name"
    BREACHED = "breached"
    TOO_GUESSABLE = "too_guessable"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    reason: str  # for people; never contains the password

    def __str__(self) -> str:
        return self.reason


# zxcvbn's score: 3 is "safely unguessable" (at least 10^8 guesses), the level the keystore passphrase needs too.
MIN_SCORE = 3
# zxcvbn-python refuses longer inputs (and both ports slow down on them); what follows adds strength anyway.
ESTIMATE_LENGTH = 72


def strength_input(password: str) -> str:
    """What both estimators see: the first 72 code points, each one beyond the BMP as U+FFFD (JavaScript
    counts those as two units and Python as one, which would make the two ports disagree on length)."""
    return "".join("\ufffd" if ord(ch) > 0xFFFF else ch for ch in password[:ESTIMATE_LENGTH])


def strength_inputs(account_name: str | None) -> list[str]:
    """The user inputs zxcvbn penalises: the account name (the phone passes the same)."""
    return [account_name] if account_name else []


def strength(password: str, account_name: str | None = None) -> int:
    """zxcvbn's score (0-4) of ``password`` for this account, as the phone app computes it."""
    result: dict[str, Any] = _zxcvbn()(strength_input(password), user_inputs=strength_inputs(account_name))
    return int(result["score"])


@functools.cache
def _zxcvbn() -> Any:
    from zxcvbn import zxcvbn  # its dictionaries take a while to load: once, when first needed

    return zxcvbn


@functools.cache
def shipped_breached_passwords() -> frozenset[str]:
    """The list shipped with pamchain (see the header of the data file for its origin)."""
    text = resources.files("pamchain.sdk").joinpath("data/breached-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def character_classes(password: str) -> set[str]:
    """AD's complexity categories present in the password."""
    classes = set()
    for ch in password:
        if ch.isupper():
            classes.add("uppercase")
        elif ch.islower():
            classes.add("lowercase")
        elif ch.isdigit():
            classes.add("digit")
        elif ch.isalpha():
            classes.add("other letter")  # letters without case (e.g. CJK): AD's fifth category
        else:
            classes.add("symbol")
    return classes


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    # AD's unicodePwd limit is 256 characters; longer is refused by the DC anyway.
    max_length: int = 256
    min_classes: int = 3
    min_score: int = MIN_SCORE  # zxcvbn score; 0 turns the estimate off
    breached: frozenset[str] | None = field(default=None, repr=False)  # None: the shipped list

    def violations(self, password: str, account_name: str | None = None) -> tuple[Violation, ...]:
        found: list[Violation] = []
        length = len(password)
        if length < self.min_length:
            found.append(Violation(Rule.TOO_SHORT, f"shorter than {self.min_length} characters"))
        if length > self.max_length:
            found.append(Violation(Rule.TOO_LONG, f"longer than {self.max_length} characters"))
        if any(unicodedata.category(ch) == "Cc" for ch in password):
            found.append(Violation(Rule.CONTROL_CHARACTER, "contains a control character"))
        classes = character_classes(password)
        if len(classes) < self.min_classes:
            found.append(
                Violation(
                    Rule.TOO_FEW_CLASSES,
                    f"uses {len(classes)} of the character classes (uppercase, lowercase, digit, symbol), "
                    f"needs {self.min_classes}",
                )
            )
        # AD skips names shorter than 3 characters for the same reason: they match too much by chance.
        if account_name and len(account_name) >= 3 and account_name.casefold() in password.casefold():
            found.append(Violation(Rule.CONTAINS_ACCOUNT_NAME, "contains the account name"))
        breached = self.breached if self.breached is not None else shipped_breached_passwords()
        if password.casefold() in breached:
            found.append(Violation(Rule.BREACHED, "is in the list of common or breached passwords"))
        if self.min_score > 0 and password:
            score = strength(password, account_name)
            if score < self.min_score:
                found.append(
                    Violation(
                        Rule.TOO_GUESSABLE,
                        f"is too easy to guess (strength {score} of 4, needs {self.min_score}): use a longer "
                        "phrase of unrelated words",
                    )
                )
        return tuple(found)

    def check(self, account: AccountRef, password: str) -> None:
        """Raise `PasswordRejected` with every reason the password fails."""
        found = self.violations(password, account.sam_account_name)
        if found:
            raise PasswordRejected(account, (v.reason for v in found))


def load_breached(lines: Iterable[str]) -> frozenset[str]:
    """A breached-password set from lines of text (for `PasswordPolicy(breached=...)`)."""
    return frozenset(s.strip().casefold() for s in lines if s.strip() and not s.startswith("#"))
