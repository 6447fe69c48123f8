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

from helmq.grammar.todo_lines import Line, classify
from helmq.grammar.todo_tags import split_title

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


# --- items ---------------------------------------------------------------------------------


@dataclass
class _Draft:
    """An entry being assembled; description lines arrive as the list goes on."""

    line: Line
    scope: tuple[str, ...]
    done_section: bool
    description: list[str] = field(default_factory=list)


def _section_has_box(lines: list[Line]) -> list[bool]:
    """For each heading section in order (the part before the first heading is 0), whether
    it holds a task-list item of its own."""
    has_box = [False]
    for line in lines:
        if line.kind == "heading":
            has_box.append(False)
        elif line.kind == "item" and line.box is not None:
            has_box[-1] = True
    return has_box


def _collect(lines: list[Line]) -> list[_Draft]:
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
    title, tags = split_title(line.text, line.number, warnings)
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
    for draft in _collect(classify(text, result.warnings)):
        if entry := _finish(draft, result.warnings):
            result.entries.append(entry)
    return result
