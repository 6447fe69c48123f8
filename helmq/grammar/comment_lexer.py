"""The comment scanner's lexer: per language, one regular expression from comment to comment."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from helmq.grammar.comment_markers import MARKERS
from helmq.grammar.comment_syntax import CommentSyntax

try:  # the regex parser is private; without it the lexer is still right, only slower
    import re._constants as sre
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - a Python that moved them
    sre = sre_parse = None


def _first_chars(items: Any) -> tuple[set[str] | None, bool]:
    """The characters a parsed regex can start with (None: any), and whether it can match the
    empty string. Lookarounds and anchors take no character, so they are passed over."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre.LITERAL:
            return chars | {chr(av)}, False
        if op is sre.IN:
            if any(kind is not sre.LITERAL and kind is not sre.RANGE for kind, _ in av):
                return None, False  # a negated or category class
            for kind, value in av:
                low, high = (value, value) if kind is sre.LITERAL else value
                chars.update(map(chr, range(low, high + 1)))
            return chars, False
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        if op is sre.SUBPATTERN:
            first, empty = _first_chars(av[3])
        elif op is sre.ATOMIC_GROUP:
            first, empty = _first_chars(av)
        elif op is sre.BRANCH:
            first, empty = set(), False
            for branch in av[1]:
                more, more_empty = _first_chars(branch)
                if more is None:
                    return None, False
                first |= more
                empty = empty or more_empty
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            first, empty = _first_chars(av[2])
            empty = empty or av[0] == 0
        else:
            return None, False
        if first is None:
            return None, False
        chars |= first
        if not empty:
            return chars, False
    return chars, True


def _start_chars(alternatives: list[str]) -> str | None:
    """A character class of every character a token can start with; None when unknown."""
    chars: set[str] = set()
    if sre_parse is None:
        return None
    try:
        for alternative in alternatives:
            first, empty = _first_chars(sre_parse.parse(alternative, re.MULTILINE))
            if first is None or empty:
                return None
            chars |= first
    except (AttributeError, TypeError, ValueError):  # the private parser changed shape
        return None
    # NUL, which a text file never holds (binary ones are not scanned), makes a class of few
    # characters compile to a bitmap instead of a list of literals: twice as fast.
    return "".join(re.escape(char) for char in sorted(chars | {"\0"}))


_GROUP_NAME = re.compile(r"\(\?P<\w+>")


@dataclass(frozen=True)
class Lexer:
    """`next_comment.match(text, pos)`: the code and strings from pos on, then the next comment
    (None when no comment is left). `bodies`: the body group of each comment alternative."""

    next_comment: re.Pattern[str]
    bodies: dict[str, str]
    line_comment: re.Pattern[str] | None


@functools.cache
def lexer_for(syntax: CommentSyntax) -> Lexer:
    """The lexer of a syntax."""
    comments: list[str] = []
    openers: list[str] = []
    bodies: dict[str, str] = {}
    for index, (opener, closer) in enumerate(syntax.block):
        name = f"block{index}"
        bodies[name] = f"{name}_body"
        comments.append(f"(?P<{name}>{opener}(?P<{name}_body>[\\s\\S]*?)(?:{closer}|\\Z))")
        openers.append(opener)
    for index, opener in enumerate(syntax.line):
        name = f"line{index}"
        bodies[name] = f"{name}_body"
        comments.append(f"(?P<{name}>{opener}(?P<{name}_body>[^\\n]*))")
        openers.append(opener)
    # Copies of the openers for look-aheads must not name groups (Lua's `--[==[` does).
    block_openers = "|".join(_GROUP_NAME.sub("(?:", opener) for opener, _ in syntax.block)
    line_openers = "|".join(_GROUP_NAME.sub("(?:", opener) for opener in syntax.line)
    strings = "".join(f"{literal}|" for literal in syntax.strings)
    chars = _start_chars([*openers, *syntax.strings])
    # What lies between two comments that may hold a marker: code, strings, and line comments
    # without a marker word (most of them: they never reach Python). Possessive: what was
    # consumed is never given back, so a text without a comment left fails once, in linear
    # time. As in a tokenizer, a block comment beats a line comment beats a string.
    between = f"{strings}[{chars}]" if chars is not None else f"{strings}[\\s\\S]"
    if line_openers:
        between = (f"(?:{line_openers})(?![^\\n]*?(?:{'|'.join(MARKERS)}))[^\\n]*"
                   f"|(?!{line_openers})(?:{between})")
    if block_openers:
        between = f"(?!{block_openers})(?:{between})"
    skip = f"(?:[^{chars}]++|{between})*+" if chars is not None else f"(?:{between})*+"
    next_comment = re.compile(f"{skip}(?:{'|'.join(comments)})", re.MULTILINE)
    line_comment = None
    if line_openers:
        line_comment = re.compile(f"[ \\t]*(?:{line_openers})(?P<body>[^\\n]*)", re.MULTILINE)
    return Lexer(next_comment, bodies, line_comment)
