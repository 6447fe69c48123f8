"""TODO-style markers inside the comments of source files: the one-pass scanner.

The scanner is a lexer approximated by one regular expression per language, matched from one
comment to the next: it consumes code and every string-literal form of the language (Python
docstrings included) in C and stops at the next comment, so a marker counts only inside a
comment and is never seen inside a string. Text without a marker word is not lexed at all, and
lexing stops after the last marker word of a text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helmq.grammar.comment_lexer import Lexer, lexer_for
from helmq.grammar.comment_markers import MARKERS, last_marker_end
from helmq.grammar.comment_syntax import CommentSyntax

# Upper case, a whole word, an optional `(owner)`, then `:`, whitespace or the end of the
# comment (or `;`, a mistyped `:`); the text runs to the end of the line (or of the comment,
# for a block comment that ends on the same line). The "no word character before" test
# follows each first letter (`T(?<!\wT)`), so every alternative starts with a literal and the
# regex engine skips ahead to the next T, F, X, H or B instead of trying them all everywhere.
_MARKER = re.compile(
    "(?P<marker>" + "|".join(rf"{word[0]}(?<!\w{word[0]}){word[1:]}" for word in MARKERS) + ")"
    r"(?:\((?P<owner>[^()\n]*)\))?(?:[ \t]*(?P<colon>:)|[ \t]*;|(?=\s|\Z))(?P<text>[^\n]*)"
)
# What may come before a bare marker (no `:`, no owner) on its line inside the comment.
_DECORATION = " \t#/*!-;%<>"
_LEADING_PUNCT = re.compile(r"[\s:\-\u2013\u2014]+")


@dataclass(frozen=True, slots=True)
class CommentHit:
    """One marker inside a comment: the text is the title (never empty), line/column 1-based."""

    marker: str
    owner: str | None
    text: str
    line: int
    column: int


def _title(raw: str) -> str:
    punct = _LEADING_PUNCT.match(raw)
    return " ".join((raw[punct.end():] if punct else raw).split())


def _next_line_title(text: str, marker_end: int, body_end: int, lexer: Lexer,
                     is_line_comment: bool) -> str:
    """The title of a marker with no text of its own (`# TODO:`) from the comment line right
    under it: the next line of its block comment, or a line comment on the next line. Empty
    when there is none, or when that line is a marker of its own."""
    newline = text.find("\n", marker_end)
    if newline < 0:
        return ""
    if newline < body_end:  # inside a block comment
        line_end = text.find("\n", newline + 1)
        raw = text[newline + 1:body_end if line_end < 0 else min(line_end, body_end)]
    elif is_line_comment and lexer.line_comment is not None:
        found = lexer.line_comment.match(text, newline + 1)
        if found is None:
            return ""
        raw = found["body"]
    else:
        return ""
    raw = raw.lstrip(_DECORATION)
    return "" if _MARKER.match(raw) else _title(raw)


def scan_comments(text: str, syntax: CommentSyntax) -> list[CommentHit]:
    """Every marker with a title inside a comment of text, in order.

    The title is the text after the marker, or for a marker alone at the start of its comment
    line (`# TODO:`), the comment line right under it; a marker with neither is left out. So
    is a bare marker (no `:`, no `(owner)`) that does not start its comment line: `# see the
    TODO list` is prose, `# TODO fix` is not. A text without any marker word returns at once."""
    stop = last_marker_end(text)
    if stop < 0:
        return []
    lexer = lexer_for(syntax)
    hits: list[CommentHit] = []
    # Nothing past the line after the last marker (its title may be there) can change a hit.
    limit = text.find("\n", stop)
    limit = -1 if limit < 0 else text.find("\n", limit + 1)
    limit = len(text) if limit < 0 else limit
    counted_to, line, pos = 0, 1, 0
    while pos < stop:
        token = lexer.next_comment.match(text, pos, limit)
        if token is None:
            break
        name = token.lastgroup or ""
        start, end = token.span(lexer.bodies[name])
        pos = token.end()
        for found in _MARKER.finditer(text, start, end):
            at = found.start()
            line_start = max(start, text.rfind("\n", 0, at) + 1)
            heads_line = not text[line_start:at].strip(_DECORATION)
            if not heads_line and found["colon"] is None and found["owner"] is None:
                continue  # a bare word in the middle of prose ("the TODO list") is no marker
            title = _title(found["text"])
            if not title and heads_line and (found["colon"] or found["owner"] is None):
                # `XXX(a whole remark)` alone is an aside, not a heading of the lines below.
                title = _next_line_title(text, found.end(), end, lexer, name.startswith("line"))
            if not title:
                continue
            line += text.count("\n", counted_to, at)
            counted_to = at
            column = at - text.rfind("\n", 0, at)
            owner = (found["owner"] or "").strip() or None
            hits.append(CommentHit(found["marker"], owner, title, line, column))
    return hits
