"""Markdown as the link checks read it: local link destinations, and the anchors headings get."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

# Any indentation: fences nested in list items are indented past the usual 3 spaces.
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
# A backtick run, then the nearest run of exactly the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
_DEST = r"(?P<dest><[^<>\n]*>|(?:[^\s()]|\([^\s()]*\))+)"
_INLINE = re.compile(
    r"\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\]"  # link text, one level of nested brackets
    r"\(\s*" + _DEST + r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)
# `[^note]: text` is a footnote, not a link reference definition.
_REFERENCE = re.compile(r" {0,3}\[(?!\^)(?:[^\[\]\\\n]|\\.)+\]:[ \t]*" + _DEST)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-*+>|]|\d+[.)]|#|<)|\s*$")
_ATTRIBUTE_ID = re.compile(r"[ \t]*\{[^{}]*#([\w-]+)[^{}]*\}[ \t]*$")
_HTML_ID = re.compile(r"<[A-Za-z][^<>]*?\s(?:id|name)\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK_TEXT = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^<>\s]*)>")
_TAG = re.compile(r"(?<!\\)</?[A-Za-z][^<>]*>")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_ENTITY = re.compile(r"&#?\w+;")
# `*` and `_` that open or close emphasis; `snake_case` keeps its underscore.
_EMPHASIS = re.compile(r"(?<![\w])[*_]+|[*_]+(?![\w])")
_NOT_SLUG = re.compile(r"[^\w\- ]")
# What must be percent-encoded for a rewritten path to stay one Markdown link destination.
_ESCAPES = {
    "%": "%25", " ": "%20", "\t": "%09", "(": "%28", ")": "%29",
    "<": "%3C", ">": "%3E", "#": "%23", "?": "%3F",
}  # fmt: skip


@dataclass(frozen=True)
class Link:
    """A local link destination and where it is written."""

    line: int
    start: int
    end: int
    dest: str
    """As written, including any `<…>`, `#anchor` or `?query`."""
    path: str
    """The URL-decoded file part; empty for a link into the same page (`#anchor`)."""
    suffix: str
    """`#anchor` and/or `?query` as written."""

    @property
    def fragment(self) -> str | None:
        """The URL-decoded anchor, if the link has one."""
        at = self.suffix.find("#")
        return None if at < 0 else unquote(self.suffix[at + 1 :])

    def with_fragment(self, fragment: str) -> str:
        """The destination as written, pointing at another anchor of the same page."""
        bare = self.dest[1:-1] if self.dest.startswith("<") else self.dest
        new = bare[: bare.index("#") + 1] + fragment
        return f"<{new}>" if self.dest.startswith("<") else new


def _local(line: int, start: int, end: int, dest: str) -> Link | None:
    bare = dest[1:-1] if dest.startswith("<") else dest
    if bare.startswith("//") or _SCHEME.match(bare):
        return None
    cut = min((i for i in (bare.find("#"), bare.find("?")) if i >= 0), default=len(bare))
    if not bare or (cut == 0 and not bare.startswith("#")):
        return None
    return Link(line, start, end, dest, unquote(bare[:cut]), bare[cut:])


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    fence = ""
    for number, line in enumerate(text.split("\n"), start=1):
        opening = _FENCE.match(line)
        if fence:
            run = opening.group(1) if opening else ""
            if (opening and run[:1] == fence[0] and len(run) >= len(fence)
                    and not line[opening.end() :].strip()):
                fence = ""
            continue
        if opening and not (opening.group(1)[0] == "`" and "`" in line[opening.end() :]):
            fence = opening.group(1)
            continue
        yield number, line


def _mask_code(line: str) -> str:
    """The line with code spans blanked; offsets stay valid in the real line."""
    return _CODE_SPAN.sub(lambda m: " " * len(m.group()), line.replace("\ufeff", " "))


def scan_links(text: str) -> Iterator[Link]:
    """Every local link outside fenced code and code spans, `#anchor` links included."""
    for number, line in _prose_lines(text):
        masked = _mask_code(line)
        matches = list(_INLINE.finditer(masked))
        if reference := _REFERENCE.match(masked):
            matches.append(reference)
        for match in matches:
            start, end = match.span("dest")
            link = _local(number, start, end, line[start:end])
            if link is not None:
                yield link


def link_target(source: str, link: Link) -> str | None:
    """The root-relative path `link` points at, or None when it leaves the root."""
    if not link.path:
        return source
    if link.path.startswith("/"):
        joined = link.path.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(source), link.path)
    target = posixpath.normpath(joined)
    # Outside the root, whether a file exists depends on where the checkout lives.
    if target == ".." or target.startswith("../"):
        return None
    return target


def relative_dest(source: str, link: Link, found: str) -> str:
    """`link`'s destination rewritten to point at root-relative `found`, suffix kept."""
    if link.path.startswith("/"):
        path = "/" + found
    else:
        path = posixpath.relpath(found, posixpath.dirname(source) or ".")
    if link.dest.startswith("<"):
        return f"<{path}{link.suffix}>"
    return "".join(_ESCAPES.get(char, char) for char in path) + link.suffix


def splice(text: str, edits: Iterable[tuple[Link, str]]) -> str:
    """The text with each link's destination replaced by its new one."""
    lines = text.split("\n")
    # Right to left, so earlier spans on the same line keep their offsets.
    for link, new in sorted(edits, key=lambda e: (e[0].line, e[0].start), reverse=True):
        line = lines[link.line - 1]
        lines[link.line - 1] = line[: link.start] + new + line[link.end :]
    return "\n".join(lines)


def _rendered(heading: str) -> str:
    """The heading's text as a reader sees it: no markup, code spans kept verbatim."""
    parts = re.split(r"(`+[^`]*`+)", heading)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part.strip("`").strip())
            continue
        part = _IMAGE.sub("", part)
        part = _LINK_TEXT.sub(r"\1", part)
        part = _ENTITY.sub("", _TAG.sub("", _AUTOLINK.sub(r"\1", part)))
        # `\<b>` and `\*` are text, not markup.
        out.append(_ESCAPED.sub(r"\1", _EMPHASIS.sub("", part)))
    return "".join(out).strip()


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading's text, before duplicates are numbered."""
    return _NOT_SLUG.sub("", _rendered(heading).lower()).replace(" ", "-")


def headings(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every ATX and setext heading outside fenced code."""
    previous: tuple[int, str] | None = None
    for number, line in _prose_lines(text):
        if atx := _ATX.match(line):
            previous = None
            yield number, atx.group(2) or ""
            continue
        if previous is not None and _SETEXT.match(line):
            yield previous
            previous = None
            continue
        previous = None if _NOT_PARAGRAPH.match(line) else (number, line.strip())


def anchors(text: str) -> list[str]:
    """Every anchor a link into this page may use: numbered GitHub heading slugs (`-1`, `-2`
    for repeats), explicit `{#id}` attributes and HTML `id`/`name` attributes, in page order."""
    found: list[str] = []
    seen: dict[str, int] = {}
    for _, heading in headings(text):
        if attribute := _ATTRIBUTE_ID.search(heading):
            found.append(attribute.group(1))
            heading = heading[: attribute.start()]
        slug = base = github_slug(heading)
        while slug in seen:
            seen[base] += 1
            slug = f"{base}-{seen[base]}"
        seen[slug] = 0
        found.append(slug)
    for _, line in _prose_lines(text):
        found.extend(match.group(1) for match in _HTML_ID.finditer(_mask_code(line)))
    return found
