"""The first pass of the TODO.md grammar: each source line classified (heading, item, text...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?")
_BOX = re.compile("\\[([ xX✅✔✓☑-])\ufe0f?\\](?:[ \t]+(.*)|$)")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_DELIMITER_CELL = re.compile(r":?-+:?")


@dataclass
class Line:
    """One classified source line; `kind` is blank, heading, break, item, text or skip."""

    kind: str
    number: int
    indent: int = 0
    text: str = ""
    """Heading text, item text after the marker and box, or the whole text line."""
    raw: str = ""
    """The line with its indentation expanded, for descriptions."""
    level: int = 0
    box: str | None = None
    """The checkbox character of a task-list item, None for a plain bullet."""


def _strip_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    """The line without HTML comments, and whether a comment is still open at its end."""
    kept: list[str] = []
    pos = 0
    while True:
        if in_comment:
            end = line.find("-->", pos)
            if end < 0:
                return "".join(kept), True
            pos, in_comment = end + 3, False
            continue
        spans = [m.span() for m in _CODE_SPAN.finditer(line, pos)]
        start = line.find("<!--", pos)
        while start >= 0 and any(a <= start < b for a, b in spans):
            start = line.find("<!--", start + 1)
        if start < 0:
            kept.append(line[pos:])
            return "".join(kept), False
        kept.append(line[pos:start])
        pos, in_comment = start + 4, True


def _is_delimiter_row(line: str) -> bool:
    """Whether a line is a pipe table's `---|:--:` row."""
    if "|" not in line:
        return False
    cells = line.strip().strip("|").split("|")
    return all(_DELIMITER_CELL.fullmatch(cell.strip()) for cell in cells)


def _expand_indent(line: str) -> str:
    """The line with tabs in its indentation expanded to 4-column stops."""
    body = line.lstrip(" \t")
    return line[: len(line) - len(body)].expandtabs(4) + body


def classify(text: str, warnings: list[str]) -> list[Line]:
    """Every line of the text, classified; code, comments, tables and quotes become skip."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[Line] = []
    fence: tuple[str, int, int] | None = None  # char, length, opening line
    comment_from = 0  # line where the open HTML comment started, 0 when none
    in_table = in_quote = False
    para: list[int] = []  # indexes in `out` of a paragraph that a setext underline may head
    for number, source in enumerate(lines, 1):
        if fence:
            stripped = source.strip()
            char, length, _ = fence
            if stripped.startswith(char * length) and not stripped.strip(char):
                fence = None
            out.append(Line("skip", number))
            continue
        was_in_comment = bool(comment_from)
        line, still_open = _strip_comments(source, was_in_comment)
        if still_open and not was_in_comment:
            comment_from = number
        elif not still_open:
            comment_from = 0
        raw = _expand_indent(line.rstrip())
        body = raw.lstrip(" ")
        indent = len(raw) - len(body)
        prev = out[-1].kind if out else "blank"
        if not body:
            if was_in_comment or source.strip():
                # A line that was only a comment is not blank: it keeps a list together.
                out.append(Line("skip", number))
                continue
            out.append(Line("blank", number))
            in_table = in_quote = False
            para = []
            continue
        if (m := _FENCE.fullmatch(body)) and not (m[1][0] == "`" and "`" in m[2]):
            fence = (m[1][0], len(m[1]), number)
        in_quote = in_quote or body.startswith(">")
        in_table = "|" in body and (
            body.startswith("|")
            or (in_table and not _ITEM.fullmatch(body))
            or (number < len(lines) and _is_delimiter_row(lines[number]))
        )
        if fence or body.startswith(">") or in_table:
            out.append(Line("skip", number))
            para = []
            continue
        if (m := _SETEXT.fullmatch(raw)) and para:
            heading = " ".join(" ".join(out[i].text for i in para).split())
            first = out[para[0]].number
            del out[para[0] :]
            out.append(Line("heading", first, text=heading, level=1 if m[1][0] == "=" else 2))
            out.extend(Line("skip", n) for n in range(first + 1, number + 1))
            para = []
            continue
        if m := _ATX.fullmatch(raw):
            out.append(Line("heading", number, text=" ".join((m[2] or "").split()),
                             level=len(m[1])))
            para, in_quote = [], False
            continue
        if _BREAK.fullmatch(raw):
            out.append(Line("break", number))
            para, in_quote = [], False
            continue
        if m := _ITEM.fullmatch(body):
            rest, box = m[2] or "", None
            if bm := _BOX.match(rest):
                rest, box = bm[2] or "", bm[1]
            out.append(Line("item", number, indent, rest, raw, box=box))
            para, in_quote = [], False
            continue
        if in_quote:  # a lazy continuation line of the block quote
            out.append(Line("skip", number))
            continue
        if prev == "text" and para:
            para.append(len(out))
        elif prev in ("blank", "heading", "break", "skip") and indent == 0:
            para = [len(out)]
        out.append(Line("text", number, indent, body, raw))
    if fence:
        warnings.append(f"line {fence[2]}: code fence is never closed; "
                        "the rest of the file is read as code")
    if comment_from:
        warnings.append(f"line {comment_from}: HTML comment is never closed; "
                        "the rest of the file is read as a comment")
    return out
