"""The tags at the end of a TODO.md item's title (`!p1`, `tier:script`...), read and checked."""

from __future__ import annotations

import re
from typing import Any

from helmq.domain.model import Tier
from helmq.errors import HelmqError

TIERS = tuple(tier.value for tier in Tier)
RISKS = ("low", "medium", "high")
EFFORTS = ("S", "M", "L")

_PRIORITY = re.compile(r"!p(\d+)")
_KEYED = re.compile(r"(tier|risk|effort|max|check):(.*)")
_MAX = re.compile(r"(\d+)([mh]?)", re.IGNORECASE)
_CHECK = re.compile(r"[a-z0-9_-]+")
# Keyed tags with a fixed set of values: the value as written (any case) -> as stored.
_CHOICES = {
    "tier": {tier: tier for tier in TIERS},
    "risk": {risk: risk for risk in RISKS},
    "effort": {effort.lower(): effort for effort in EFFORTS},
}
_ALLOWED = {
    "tier": " | ".join(TIERS),
    "risk": " | ".join(RISKS),
    "effort": " | ".join(EFFORTS),
    "check": "a name of a-z, 0-9, _ and -",
    "max": "minutes like 45, 30m or 2h",
}
_OBSIDIAN_PRIORITY = frozenset("🔺⏫🔼🔽⏬")
_OBSIDIAN_DATE = frozenset("📅⏳🛫➕✅❌")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _BadTag(HelmqError):
    """A token names a tag key but its value is not allowed."""


def _read_tag(token: str) -> tuple[str, Any] | None:
    """The (key, value) a token sets, None when it is not a tag; `_BadTag` on a bad value."""
    if token == "+auto":
        return "auto_start", True
    if token.casefold() in ("@daily", "@weekly"):
        return "recurrence", token[1:].casefold()
    if m := _PRIORITY.fullmatch(token):
        if int(m[1]) > 3:
            raise _BadTag("priority must be !p0 (highest) to !p3")
        return "priority", int(m[1])
    if not (m := _KEYED.fullmatch(token)):
        return None
    key, value = m[1], m[2]
    if value.lower() in _CHOICES.get(key, {}):
        return key, _CHOICES[key][value.lower()]
    if key == "check" and _CHECK.fullmatch(value):
        return "check", value
    if key == "max" and (mm := _MAX.fullmatch(value)) and int(mm[1]) > 0:
        return "max_minutes", int(mm[1]) * (60 if mm[2].lower() == "h" else 1)
    raise _BadTag(f"{key} must be {_ALLOWED[key]}")


def split_title(text: str, line: int, warnings: list[str]) -> tuple[str, dict[str, Any]]:
    """The title with its trailing tags (and Obsidian fields) removed, and the tags."""
    tokens = text.split()
    found: list[tuple[str, tuple[str, Any] | _BadTag]] = []
    while tokens:
        token = tokens[-1]
        if token in _OBSIDIAN_PRIORITY:
            tokens.pop()
            continue
        if len(tokens) > 1 and _ISO_DATE.fullmatch(token) and tokens[-2] in _OBSIDIAN_DATE:
            del tokens[-2:]
            continue
        try:
            tag = _read_tag(token)
        except _BadTag as bad:
            found.append((token, bad))
            tokens.pop()
            continue
        if tag is None:
            break
        found.append((token, tag))
        tokens.pop()
    tags: dict[str, Any] = {}
    for token, tag in reversed(found):  # left to right, so the last of two tags wins
        if isinstance(tag, _BadTag):
            warnings.append(f"line {line}: tag `{token}` ignored: {tag}")
            continue
        key, value = tag
        if key in tags and tags[key] != value:
            warnings.append(f"line {line}: tag `{token}` overrides an earlier {key} tag")
        tags[key] = value
    return " ".join(tokens), tags
