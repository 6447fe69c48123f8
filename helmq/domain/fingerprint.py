"""Stable identities for discovered items: a content fingerprint and a readable key."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a path or a one-line title
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SLUG_MAX = 40
# Letters NFKD does not decompose into an ASCII base letter.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
    "ı": "i",
})


def fingerprint(*parts: str) -> str:
    """The first 32 hex digits of the sha256 of the parts joined by the unit separator."""
    return hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()[:32]


def normalize_title(title: str) -> str:
    """The title as identity sees it: casefolded, single-spaced, no trailing `.:;`."""
    return " ".join(title.casefold().split()).rstrip(" .:;")


def slug(text: str) -> str:
    """Lowercase ASCII letters, digits and single hyphens, at most 40 characters."""
    ascii_text = (
        unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:_SLUG_MAX].rstrip("-")


def item_key(title: str, fp: str) -> str:
    """A readable unique key that is a valid git branch component: `<slug>-<fp[:8]>`."""
    return f"{slug(title) or 'item'}-{fp[:8]}"


class Occurrences:
    """Tells identical entries of one file apart: the second and later get a `#n` part, so
    the first keeps the fingerprint it had before a duplicate appeared."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], int] = {}

    def __call__(self, *key: str) -> tuple[str, ...]:
        """The extra fingerprint parts for the next entry with this key."""
        n = self._seen[key] = self._seen.get(key, 0) + 1
        return () if n == 1 else (f"#{n}",)


_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def is_safe_key(key: str) -> bool:
    """Whether `key` can name both a `helmq/<key>` branch and a directory, and fits the
    item_key column: letters, digits, `.`, `_`, `-`, at most 200 characters, none of the
    forms `git check-ref-format` rejects in one component."""
    return bool(_SAFE_KEY.fullmatch(key)) and ".." not in key and not key.endswith((".", ".lock"))
