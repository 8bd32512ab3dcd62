"""The one table of reasons: every revert string of the contracts has a sentence in English and French."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pamchain.sdk.chain.model import Policy
from pamchain.sdk.reasons import LANGUAGES, duration_text, explain, language, policy_params, table

ROOT = Path(__file__).resolve().parents[2]
# `assert cond, "module: reason"` (the message may close a multi-line condition) and `raise "module: reason"`.
REVERT = re.compile(r'(?:,|\braise)\s*"([a-z_0-9]+: [^"]+)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def contract_reverts() -> set[str]:
    found: set[str] = set()
    for source in sorted((ROOT / "contracts").rglob("*.vy")):
        found |= set(REVERT.findall(source.read_text(encoding="utf-8")))
    return found


def test_every_contract_revert__has_a_reason_in_english_and_french() -> None:
    reverts = contract_reverts()
    assert len(reverts) > 100  # the scan sees the suite, not an empty folder
    missing = {
        code: [lang for lang in LANGUAGES if not str(table().get(code, {}).get(lang, "")).strip()]
        for code in reverts
    }
    assert {code: langs for code, langs in missing.items() if langs} == {}


def test_reasons_table__no_entry_for_a_revert_that_no_longer_exists() -> None:
    assert set(table()) - contract_reverts() == set()


def test_reasons_table__details_in_both_languages_use_only_policy_parameters() -> None:
    known = set(policy_params(_policy(), "G"))
    for code, entry in table().items():
        detail = entry.get("detail")
        if detail is None:
            continue
        assert set(detail) == set(LANGUAGES), code
        names = {lang: set(PLACEHOLDER.findall(detail[lang])) for lang in LANGUAGES}
        assert names["en"] == names["fr"] and names["en"] <= known, code
        for lang in LANGUAGES:
            assert not PLACEHOLDER.search(entry[lang]), code  # the plain sentence needs no parameter


def test_reasons_table__is_what_the_phone_imports() -> None:
    source = (ROOT / "web" / "src" / "reasons.js").read_text(encoding="utf-8")
    assert 'import table from "../../sdk/data/reasons.json";' in source
    raw = json.loads((ROOT / "sdk" / "data" / "reasons.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in raw.items() if not k.startswith("_")} == table()


def _policy(**changes: int) -> Policy:
    values = {
        "target": b"\x01" * 32,
        "domain": b"d".ljust(32, b"\x00"),
        "approvals_required": 1,
        "max_duration": 3600,
        "max_pending": 600,
        "self_service": False,
        "enabled": True,
        "break_glass_approvals": 1,
        "break_glass_max_duration": 1800,
        "approvers": (),
        "break_glass_cooldown": 86400 * 2,
        "unlock_limit": 3,
        "unlock_window": 5400,
    }
    values.update(changes)
    return Policy(**values)  # type: ignore[arg-type]


def test_explain__bad_duration__policy_cap_in_each_language() -> None:
    params = policy_params(_policy(), "Domain Admins")
    assert (
        explain("requests: bad duration", "en", params) == "the policy for Domain Admins allows at most 1 h"
    )
    fr = policy_params(_policy(), "Domain Admins", lang="fr")
    assert explain("requests: bad duration", "fr", fr) == "la politique pour Domain Admins permet au plus 1 h"
    # under break-glass the cap is the emergency one
    glass = policy_params(_policy(), "Domain Admins", break_glass=True)
    assert (
        explain("requests: bad duration", "en", glass) == "the policy for Domain Admins allows at most 30 min"
    )


def test_explain__without_parameters__the_plain_sentence__unknown_code__none() -> None:
    assert explain("requests: bad duration", "en") == (
        "the duration must be longer than zero and within what the policy allows"
    )
    assert explain("requests: bad duration", "en", {"group": "G"}) == explain("requests: bad duration", "en")
    assert explain("requests: self-approval", "de") == explain("requests: self-approval", "en")
    assert explain("nothing: like this", "en") is None


@pytest.mark.parametrize(
    ("seconds", "en", "fr"),
    [(3600, "1 h", "1 h"), (5400, "1 h 30 min", "1 h 30 min"), (45, "45 s", "45 s"), (172800, "2 d", "2 j")],
)
def test_duration_text(seconds: int, en: str, fr: str) -> None:
    assert duration_text(seconds, "en") == en and duration_text(seconds, "fr") == fr


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PAMCHAIN_LANG": "fr", "LANG": "en_GB.UTF-8"}, "fr"),
        ({"LC_ALL": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_CA.UTF-8"}, "fr"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_language__from_the_environment(environ: dict[str, str], expected: str) -> None:
    assert language(environ) == expected
