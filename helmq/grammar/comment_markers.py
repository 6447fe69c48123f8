"""Finding marker words (TODO, FIXME...) fast in text or raw bytes, before any lexing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, AnyStr

MARKERS = ("TODO", "FIXME", "XXX", "HACK", "BUG")

# Each marker is looked for backwards (rfind runs several times faster than find or a regular
# expression) by itself or by a rare letter of it (one character is found with memrchr; every
# hit then costs a check in Python, so TODO, whose letters are all common, is found whole).
# (probe, ((marker, where the probe is in it), ...)): the X of FIXME and of XXX is one search.
_PROBES = (("TODO", (("TODO", 0),)), ("X", (("FIXME", 2), ("XXX", 2))), ("K", (("HACK", 3),)),
           ("G", (("BUG", 2),)))
_BYTE_PROBES = tuple((probe.encode(), tuple((word.encode(), at) for word, at in words))
                     for probe, words in _PROBES)
_LONGEST = max(map(len, MARKERS))
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what `\w` matches in a str pattern


_Probes = tuple[tuple[AnyStr, tuple[tuple[AnyStr, int], ...]], ...]


def _last_marker_end(text: AnyStr, probes: _Probes[AnyStr],
                     is_word: Callable[[Any], bool]) -> int:
    last = -1
    size = len(text)
    for probe, words in probes:
        floor = last - _LONGEST if last > _LONGEST else 0  # only a later one can move `last`
        hit = text.rfind(probe, floor)
        while hit >= 0:
            for word, at in words:
                start = hit - at
                end = start + len(word)
                if (start >= floor and text.startswith(word, start)
                        and (start == 0 or not is_word(text[start - 1]))
                        and (end == size or not is_word(text[end]))):
                    last = max(last, end)
                    hit = -1  # the last one of this probe: on to the next probe
                    break
            else:
                hit = text.rfind(probe, floor, hit)
    return last


def last_marker_end(text: str) -> int:
    """Where the last marker word (upper case, a whole word) of the text ends; -1 if none."""
    return _last_marker_end(text, _PROBES, _is_word_char)


def may_hold_marker(data: bytes) -> bool:
    """Whether raw file bytes may hold a marker word: False when no ASCII-compatible
    encoding of them (UTF-8, Latin-1...) can."""
    return _last_marker_end(data, _BYTE_PROBES, _WORD_BYTES.__contains__) >= 0
