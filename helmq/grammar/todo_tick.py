"""Marking a TODO.md item done in place, changing nothing but its box or its strikethrough."""

from __future__ import annotations

import re

from helmq.grammar.todo_md import TodoEntry, parse_todo

# Captured, so that joining the parts gives back the text with every line break as it was.
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+")
_WORD = re.compile(r"\S+")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _wanted(title: str) -> str:
    """The title as compared with items: trailing tags dropped as discovery drops them."""
    entries = parse_todo("- " + " ".join(title.split())).entries
    return _fold(entries[0].title) if entries else ""


def _find(entries: list[TodoEntry], line: int, want: str) -> TodoEntry | None:
    """The open item at `line` if it has the title, else the one open item elsewhere that has."""
    at_line = next((entry for entry in entries if entry.line == line), None)
    if at_line is not None and want in _fold(at_line.title):
        return None if at_line.done else at_line
    exact = [entry for entry in entries if _fold(entry.title) == want]
    open_exact = [entry for entry in exact if not entry.done]
    if len(open_exact) == 1:
        return open_exact[0]
    if exact:
        # Done already, or several open: a looser match could only pick the wrong one.
        return None
    containing = [entry for entry in entries if not entry.done and want in _fold(entry.title)]
    return containing[0] if len(containing) == 1 else None


def _marked_done(line: str, entry: TodoEntry) -> str | None:
    marker = _MARKER.match(line)
    if marker is None:
        return None
    start = marker.end()
    if entry.checkbox:
        return line[:start] + "[x]" + line[start + 3 :] if line.startswith("[ ]", start) else None
    # A plain item has no box, and adding one would turn the other plain items of its section
    # into descriptions. Strike out the title only: tags after it must still read as tags.
    words = list(_WORD.finditer(line, start))
    title = entry.title.split()
    if [word.group() for word in words[: len(title)]] == title:
        end = words[len(title) - 1].end()
    else:
        end = len(line.rstrip())
    return line[:start] + "~~" + line[start:end] + "~~" + line[end:]


def tick_todo(text: str, line: int, title: str) -> str | None:
    """`text` with the item titled `title` (last seen at 1-based `line`) marked done, or None."""
    want = _wanted(title)
    if not want:
        return None
    entry = _find(parse_todo(text).entries, line, want)
    if entry is None:
        return None
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    parts = _LINE_BREAK.split(text[len(bom) :])  # lines at even indexes, breaks between
    index = 2 * (entry.line - 1)
    marked = _marked_done(parts[index], entry)
    if marked is None:
        return None
    parts[index] = marked
    ticked = bom + "".join(parts)
    # Discovery must read the result as this very item, done: same line, same title.
    if not any(
        after.line == entry.line and after.done and after.title == entry.title
        for after in parse_todo(ticked).entries
    ):
        return None
    return ticked
