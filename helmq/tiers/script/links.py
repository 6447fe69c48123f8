"""The `links` check: relative Markdown links whose target file does not exist."""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from helmq.errors import CheckError
from helmq.proc import run_bounded
from helmq.tiers import worktree
from helmq.tiers.script.registry import FixResult, Problem
from helmq.tiers.worktree import git_env

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
# What must be percent-encoded for a rewritten path to stay one Markdown link destination.
_ESCAPES = {
    "%": "%25", " ": "%20", "\t": "%09", "(": "%28", ")": "%29",
    "<": "%3C", ">": "%3E", "#": "%23", "?": "%3F",
}  # fmt: skip


@dataclass(frozen=True)
class _Link:
    """A local link destination and where it is written."""

    line: int
    start: int
    end: int
    dest: str
    """As written, including any `<…>`, `#anchor` or `?query`."""
    path: str
    """The URL-decoded file part."""
    suffix: str
    """`#anchor` and/or `?query` as written."""


def _local(line: int, start: int, end: int, dest: str) -> _Link | None:
    bare = dest[1:-1] if dest.startswith("<") else dest
    if bare.startswith("//") or _SCHEME.match(bare):
        return None
    cut = min((i for i in (bare.find("#"), bare.find("?")) if i >= 0), default=len(bare))
    if cut == 0:
        return None
    return _Link(line, start, end, dest, unquote(bare[:cut]), bare[cut:])


def _scan(text: str) -> Iterator[_Link]:
    """Every local link outside fenced code and code spans."""
    fence = ""
    for number, line in enumerate(text.split("\n"), start=1):
        opening = _FENCE.match(line)
        if fence:
            run = opening.group(1) if opening else ""
            if run[:1] == fence[0] and len(run) >= len(fence) and not line[opening.end() :].strip():
                fence = ""
            continue
        if opening and not (opening.group(1)[0] == "`" and "`" in line[opening.end() :]):
            fence = opening.group(1)
            continue
        # Masking keeps offsets, so spans found in the masked line are valid in the real one.
        masked = _CODE_SPAN.sub(lambda m: " " * len(m.group()), line.replace("\ufeff", " "))
        matches = list(_INLINE.finditer(masked))
        if reference := _REFERENCE.match(masked):
            matches.append(reference)
        for match in matches:
            start, end = match.span("dest")
            link = _local(number, start, end, line[start:end])
            if link is not None:
                yield link


def _target(root: Path, source: str, link: _Link) -> str | None:
    """The root-relative path `link` points at, or None when it leaves the root."""
    if link.path.startswith("/"):
        joined = link.path.lstrip("/")
    else:
        joined = posixpath.join(posixpath.dirname(source), link.path)
    target = posixpath.normpath(joined)
    # Outside the root, whether a file exists depends on where the checkout lives.
    if target == ".." or target.startswith("../"):
        return None
    return target


def _files(root: Path) -> list[str]:
    """Root-relative posix paths of the files git tracks under root, or of all files."""
    if not root.is_dir():
        raise CheckError(f"{root}: no such directory to check links in; check the repo path")
    try:
        proc = run_bounded(
            ["git", "ls-files", "-z"], root, timeout=worktree.GIT_TIMEOUT, env=git_env(),
            text=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckError(
            f"{root}: `git ls-files -z` did not finish within {worktree.GIT_TIMEOUT:g} s "
            "and was killed; check the repository for a hung lock or file system"
        ) from None
    except OSError:
        proc = None
    if proc is not None and proc.returncode == 0:
        names = [os.fsdecode(name) for name in proc.stdout.split(b"\0") if name]
    else:
        names = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != ".git"]
            base = Path(folder).relative_to(root)
            names.extend((base / name).as_posix() for name in files)
    real_root = root.resolve()
    # A tracked symlink must not lead a fixer to edit a file outside the root.
    return [
        n for n in names if (root / n).is_file() and (root / n).resolve().is_relative_to(real_root)
    ]


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system: no such file either
        return False


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


def _broken(root: Path, source: str, text: str) -> Iterator[tuple[_Link, str]]:
    for link in _scan(text):
        target = _target(root, source, link)
        if target is not None and not _exists(root / target):
            yield link, target


def _problem(source: str, link: _Link, target: str) -> Problem:
    return Problem(
        file=source,
        line=link.line,
        message=f"link to {link.dest} is broken: {target} does not exist",
        detail={"target": link.dest, "path": target, "column": link.start + 1},
    )


def _markdown(files: Iterable[str]) -> list[str]:
    return [name for name in files if name.lower().endswith(".md")]


def _rewritten(source: str, link: _Link, found: str) -> str:
    if link.path.startswith("/"):
        path = "/" + found
    else:
        path = posixpath.relpath(found, posixpath.dirname(source) or ".")
    if link.dest.startswith("<"):
        return f"<{path}{link.suffix}>"
    return "".join(_ESCAPES.get(char, char) for char in path) + link.suffix


class LinksCheck:
    """Broken relative links in Markdown; fixed when the target's name is unique in the repo."""

    name = "links"
    keywords = ("broken link", "dead link", "fix links", "link check", "relative link")
    needs_worktree = True

    def detect(self, root: Path) -> list[Problem]:
        """Every relative link in a Markdown file whose target does not exist."""
        return [
            _problem(source, link, target)
            for source in _markdown(_files(root))
            for link, target in _broken(root, source, _read(root / source))
        ]

    def fix(self, root: Path) -> FixResult:
        """Point each broken link at the one file in the repo with the target's name."""
        files = _files(root)
        by_name: dict[str, list[str]] = defaultdict(list)
        for name in files:
            by_name[posixpath.basename(name)].append(name)
        fixed, unfixed, notes = 0, [], []
        for source in _markdown(files):
            text = _read(root / source)
            edits: list[tuple[_Link, str]] = []
            for link, target in _broken(root, source, text):
                where = f"{source}:{link.line}"
                found = [] if link.path.endswith("/") else by_name[posixpath.basename(target)]
                if len(found) != 1:
                    why = (
                        "no file has its name" if not found else f"{len(found)} files have its name"
                    )
                    unfixed.append(_problem(source, link, target))
                    notes.append(f"{where}: left {link.dest}: {why}")
                    continue
                new = _rewritten(source, link, found[0])
                edits.append((link, new))
                notes.append(f"{where}: {link.dest} -> {new}")
            lines = text.split("\n")
            # Right to left, so earlier spans on the same line keep their offsets.
            for link, new in sorted(edits, key=lambda e: (e[0].line, e[0].start), reverse=True):
                line = lines[link.line - 1]
                lines[link.line - 1] = line[: link.start] + new + line[link.end :]
            if edits:
                (root / source).write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
                fixed += len(edits)
        return FixResult(fixed=fixed, unfixed=unfixed, notes=notes)

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """Only the Markdown files that have broken links."""
        return {problem.file for problem in problems}


CHECK = LinksCheck()
