"""One verdict on password strength: the oracle's zxcvbn (Python port) and the phone's (the JavaScript original,
run here under node from web/src/strength.js) score every shared vector alike, near the threshold included."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pamchain.sdk.directory import AccountRef, PasswordRejected
from pamchain.sdk.directory.password_policy import MIN_SCORE, PasswordPolicy, Rule, strength, strength_input

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "vectors" / "password-strength.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = VECTORS["cases"]
WEB = ROOT / "web"


def _id(case: dict[str, Any]) -> str:
    return f"{case['password'][:24]!r}/{case['account']}"


def test_vectors__threshold_is_the_policy_s() -> None:
    assert VECTORS["min_score"] == MIN_SCORE == PasswordPolicy().min_score
    scores = {c["score"] for c in CASES}
    assert scores == {0, 1, 2, 3, 4}
    # Both sides of the threshold are covered closely: scores 2 and 3, with and without an account name.
    assert {(c["score"], c["account"] is None) for c in CASES} >= {
        (2, True),
        (3, True),
        (2, False),
        (3, False),
    }


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_python_estimate__matches_vector(case: dict[str, Any]) -> None:
    assert strength(case["password"], case["account"]) == case["score"]
    assert (case["score"] >= MIN_SCORE) is case["strong"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_policy__too_guessable_exactly_when_the_vector_is_weak(case: dict[str, Any]) -> None:
    found = PasswordPolicy().violations(case["password"], case["account"])
    assert (Rule.TOO_GUESSABLE in {v.rule for v in found}) is (not case["strong"])


def test_account_name__is_a_user_input() -> None:
    assert strength("Sggolbj#2024") == 4 and strength("Sggolbj#2024", "jbloggs") == 2
    with pytest.raises(PasswordRejected) as rejected:
        PasswordPolicy().check(AccountRef("jbloggs"), "Sggolbj#2024")
    assert rejected.value.reasons == (
        "is too easy to guess (strength 2 of 4, needs 3): use a longer phrase of unrelated words",
    )
    PasswordPolicy().check(AccountRef("someone"), "Sggolbj#2024")


def test_estimate_input__code_points_and_72_at_most() -> None:
    assert strength_input("ab😀c") == "ab\ufffdc"
    assert len(strength_input("x" * 300)) == 72
    assert PasswordPolicy(min_score=0).violations("Football#2020") == ()  # the estimate can be turned off


def test_phone_module__same_score_for_every_vector() -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "zxcvbn").is_dir():
        pytest.skip("node and web/node_modules (npm ci in web/) are needed to run the phone's module")
    run = subprocess.run(
        [node, str(WEB / "scripts" / "strength.mjs")],
        input=json.dumps([{"password": c["password"], "account": c["account"]} for c in CASES]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    phone = json.loads(run.stdout)
    assert [(c["password"], c["account"], s) for c, s in zip(CASES, phone, strict=True)] == [
        (c["password"], c["account"], c["score"]) for c in CASES
    ]
