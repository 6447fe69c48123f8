"""The TODO.md grammar: which lines of a Markdown TODO file are work items, and their tags.

CONTRACT.md ("TODO.md files") gives the rules; where it is silent this module decides:

- "A section without any checkbox" is the heading section that directly holds the item:
  the lines between its nearest heading and the next heading of any level. A checkbox in
  a subsection does not turn the parent section's plain bullets into notes.
- An item's title is its first line. Continuation lines (indented below it, or lazy lines
  right under it) and nested plain bullets are its description: dedented, blank lines
  dropped. A nested task-list item is an entry of its own, not description.
- Besides `[x]`/`[X]`, the boxes `[✅]`, `[✔]`, `[✓]`, `[☑]` and `[-]` (cancelled) are done.
- Whole-text strikethrough loses its `~~` in the title, so striking an item out keeps its
  fingerprint; partly struck text (`~~a~~ b`) stays open.
- Trailing Obsidian Tasks fields (priority emoji, `📅 2024-01-31`-style dates) are dropped
  from the title, so completing a task in Obsidian keeps its fingerprint.
- HTML comments are removed from titles and descriptions; `<!--` inside a code span is text.
- Block quote lines (and their lazy continuations) are skipped without ending the list
  around them, so a quoted remark between nested notes keeps the notes together.
- `tier:`, `risk:` and `effort:` values are read in any case (`effort:s` is `S`).
- Indented (four-space) code blocks are not recognised: without a full CommonMark parser
  they cannot be told apart from nested list content. Fenced code is recognised.
- A line of the form `a | b` followed by a delimiter row starts a pipe table; a line that
  starts with `|` is always a table row.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from helmq.domain.model import Tier
from helmq.errors import HelmqError

TIERS = tuple(tier.value for tier in Tier)
RISKS = ("low", "medium", "high")
EFFORTS = ("S", "M", "L")
DONE_HEADING = re.compile(r"\b(done|completed|finished|changelog|fixed|released)\b", re.IGNORECASE)


@dataclass(frozen=True)
class TodoEntry:
    """One item of a TODO file, open or done."""

    title: str
    line: int
    """1-based line of the item's first line."""
    done: bool = False
    checkbox: bool = False
    """Whether it was a task-list item (`- [ ]`) rather than a plain bullet."""
    description: str = ""
    scope: tuple[str, ...] = ()
    """Heading path above the item, outermost first."""
    priority: int | None = None
    recurrence: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    """Only the keys present among tier, risk, effort, max_minutes, auto_start, check."""


@dataclass
class TodoParse:
    """What one TODO file holds: its entries, and `line N: …` warnings about it."""

    entries: list[TodoEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- tags ----------------------------------------------------------------------------------

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


def _split_title(text: str, line: int, warnings: list[str]) -> tuple[str, dict[str, Any]]:
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


# --- lines ---------------------------------------------------------------------------------

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_BREAK = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?")
_BOX = re.compile("\\[([ xX✅✔✓☑-])\ufe0f?\\](?:[ \t]+(.*)|$)")
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_CODE_SPAN = re.compile(r"(`+).+?\1")
_DELIMITER_CELL = re.compile(r":?-+:?")


@dataclass
class _Line:
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
    kept, pos = [], 0
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


def _classify(text: str, warnings: list[str]) -> list[_Line]:
    """Every line of the text, classified; code, comments, tables and quotes become skip."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[_Line] = []
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
            out.append(_Line("skip", number))
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
                out.append(_Line("skip", number))
                continue
            out.append(_Line("blank", number))
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
            out.append(_Line("skip", number))
            para = []
            continue
        if (m := _SETEXT.fullmatch(raw)) and para:
            heading = " ".join(" ".join(out[i].text for i in para).split())
            first = out[para[0]].number
            del out[para[0] :]
            out.append(_Line("heading", first, text=heading, level=1 if m[1][0] == "=" else 2))
            out.extend(_Line("skip", n) for n in range(first + 1, number + 1))
            para = []
            continue
        if m := _ATX.fullmatch(raw):
            out.append(_Line("heading", number, text=" ".join((m[2] or "").split()),
                             level=len(m[1])))
            para, in_quote = [], False
            continue
        if _BREAK.fullmatch(raw):
            out.append(_Line("break", number))
            para, in_quote = [], False
            continue
        if m := _ITEM.fullmatch(body):
            rest, box = m[2] or "", None
            if bm := _BOX.match(rest):
                rest, box = bm[2] or "", bm[1]
            out.append(_Line("item", number, indent, rest, raw, box=box))
            para, in_quote = [], False
            continue
        if in_quote:  # a lazy continuation line of the block quote
            out.append(_Line("skip", number))
            continue
        if prev == "text" and para:
            para.append(len(out))
        elif prev in ("blank", "heading", "break", "skip") and indent == 0:
            para = [len(out)]
        out.append(_Line("text", number, indent, body, raw))
    if fence:
        warnings.append(f"line {fence[2]}: code fence is never closed; "
                        "the rest of the file is read as code")
    if comment_from:
        warnings.append(f"line {comment_from}: HTML comment is never closed; "
                        "the rest of the file is read as a comment")
    return out


# --- items ---------------------------------------------------------------------------------


@dataclass
class _Draft:
    """An entry being assembled; description lines arrive as the list goes on."""

    line: _Line
    scope: tuple[str, ...]
    done_section: bool
    description: list[str] = field(default_factory=list)


def _section_has_box(lines: list[_Line]) -> list[bool]:
    """For each heading section in order (the part before the first heading is 0), whether
    it holds a task-list item of its own."""
    has_box = [False]
    for line in lines:
        if line.kind == "heading":
            has_box.append(False)
        elif line.kind == "item" and line.box is not None:
            has_box[-1] = True
    return has_box


def _collect(lines: list[_Line]) -> list[_Draft]:
    """The items of the file, each with the description lines found below it."""
    has_box = _section_has_box(lines)
    section = 0
    headings: list[tuple[int, str]] = []
    drafts: list[_Draft] = []
    # Open list items, innermost last: (indent, the draft it is, or None for a bullet that
    # is not an item, whose nested lines belong to the nearest enclosing item).
    stack: list[tuple[int, _Draft | None]] = []
    prev = "blank"

    def describe(text: str) -> None:
        owner = next((draft for _, draft in reversed(stack) if draft), None)
        if owner:
            owner.description.append(text)

    for line in lines:
        if line.kind == "heading":
            section += 1
            while headings and headings[-1][0] >= line.level:
                headings.pop()
            if line.text:
                headings.append((line.level, line.text))
            stack.clear()
        elif line.kind == "break":
            stack.clear()
        elif line.kind == "item":
            while stack and stack[-1][0] >= line.indent:
                stack.pop()
            draft = None
            if line.box is not None or (not stack and not has_box[section]):
                scope = tuple(text for _, text in headings)
                done_section = any(DONE_HEADING.search(text) for text in scope)
                draft = _Draft(line, scope, done_section)
                drafts.append(draft)
            elif stack:
                describe(line.raw)
            stack.append((line.indent, draft))
        elif line.kind == "text":
            if stack and prev in ("item", "text"):
                describe(line.raw)  # a continuation line, indented or lazy
            else:
                while stack and stack[-1][0] >= line.indent:
                    stack.pop()
                if stack:
                    describe(line.raw)
        if line.kind != "skip":
            prev = line.kind
    return drafts


def _finish(draft: _Draft, warnings: list[str]) -> TodoEntry | None:
    """The entry a draft makes, None when nothing is left of its title."""
    line = draft.line
    title, tags = _split_title(line.text, line.number, warnings)
    inner = title[2:-2]
    struck = title.startswith("~~") and title.endswith("~~") and inner and "~~" not in inner
    if struck:
        title = " ".join(inner.split())
    if not title:
        return None
    priority, recurrence = tags.pop("priority", None), tags.pop("recurrence", None)
    return TodoEntry(
        title=title,
        line=line.number,
        done=line.box not in (None, " ") or bool(struck) or draft.done_section,
        checkbox=line.box is not None,
        description=textwrap.dedent("\n".join(draft.description)).strip("\n"),
        scope=draft.scope,
        priority=priority,
        recurrence=recurrence,
        tags=tags,
    )


def parse_todo(text: str) -> TodoParse:
    """Every item of a TODO.md text, open and done, with warnings about what was ignored."""
    result = TodoParse()
    for draft in _collect(_classify(text, result.warnings)):
        if entry := _finish(draft, result.warnings):
            result.entries.append(entry)
    return result
