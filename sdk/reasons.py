"""Contract reverts in the user's terms, in English and French, from the one table the CLI and the phone share
(``sdk/data/reasons.json``), with the request's policy filled in where it says more."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from pamchain.sdk.chain.model import Policy

LANGUAGES = ("en", "fr")
LANGUAGE_ENV = "PAMCHAIN_LANG"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def table() -> dict[str, dict[str, Any]]:
    """Revert string -> {"en", "fr", optional "detail": {"en", "fr"}}."""
    text = resources.files(__package__).joinpath("data/reasons.json").read_text(encoding="utf-8")
    return {code: entry for code, entry in json.loads(text).items() if not code.startswith("_")}


def language(environ: Mapping[str, str] | None = None) -> str:
    """``PAMCHAIN_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``): ``fr`` or ``en``."""
    env = os.environ if environ is None else environ
    for name in (LANGUAGE_ENV, "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            code = value[:2].lower()
            return code if code in LANGUAGES else "en"
    return "en"


def duration_text(seconds: int, lang: str = "en") -> str:
    """``1 h``, ``1 h 30 min``, ``45 min``, ``30 s``: a policy's limit as people say it."""
    h, rest = divmod(max(0, int(seconds)), 3600)
    m, s = divmod(rest, 60)
    if lang == "fr" and h >= 48 and not (h % 24 or m or s):
        return f"{h // 24} j"
    if h >= 48 and not (h % 24 or m or s):
        return f"{h // 24} d"
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s else ""]
    return " ".join(p for p in parts if p) or "0 s"


def policy_params(
    policy: Policy, group: str, *, break_glass: bool = False, lang: str = "en"
) -> dict[str, str]:
    """What a reason may say about ``policy``: the group's name, its cap (the break-glass one when asked
    under it), the break-glass cooldown, the unlock limit and window."""
    cap = policy.break_glass_max_duration if break_glass else policy.max_duration
    return {
        "group": group,
        "max": duration_text(cap, lang),
        "cooldown": duration_text(policy.break_glass_cooldown, lang),
        "limit": str(policy.unlock_limit),
        "window": duration_text(policy.unlock_window, lang),
    }


def explain(code: str, lang: str = "en", params: Mapping[str, str] | None = None) -> str | None:
    """The sentence for revert ``code`` (``requests: bad duration``) in ``lang``; its ``detail`` when every
    placeholder is in ``params``; None for a revert the table does not know."""
    entry = table().get(code)
    if entry is None:
        return None
    lang = lang if lang in LANGUAGES else "en"
    detail = entry.get("detail")
    if detail and params is not None:
        text = detail[lang]
        if all(name in params for name in _PLACEHOLDER.findall(text)):
            return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), text)
    return str(entry[lang])
