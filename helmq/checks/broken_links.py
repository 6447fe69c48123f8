"""The loops the `links` and `anchors` checks share: find the broken links in a tree's Markdown,
and point each one that has a single sure mend at its new destination."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helmq.checks.markdown import Link, splice
from helmq.checks.registry import FixResult, Problem
from helmq.checks.sources import SourceTree, is_project_markdown


@dataclass(frozen=True)
class Left:
    """Why a broken link stays as written: there is no single destination to give it."""

    why: str


Broken = Callable[[str, str], Iterable[tuple[Link, str]]]
"""(source, its text) -> (link, root-relative target) of each broken link in the source."""
Describe = Callable[[str, Link, str], Problem]
"""(source, link, target) -> the problem that broken link is."""
Mend = Callable[[str, Link, str], str | Left]
"""(source, link, target) -> the link's new destination, or why it is left."""


def exists(path: Path) -> bool:
    """Whether a file or directory is there; a name the file system refuses is not."""
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system: no such file either
        return False


def link_problem(source: str, link: Link, target: str, why: str, **detail: Any) -> Problem:
    """The problem a broken link is, `why` saying what is missing; keyed by its destination,
    which is how `fix_broken` finds the link again."""
    return Problem(
        file=source,
        line=link.line,
        message=f"link to {link.dest} is broken: {why}",
        detail={"target": link.dest, "path": target, **detail, "column": link.start + 1},
        key=link.dest,
    )


def find_broken(tree: SourceTree, broken: Broken, describe: Describe) -> list[Problem]:
    """The problem of every broken link in the project's Markdown files of `tree`."""
    problems: list[Problem] = []
    for source in filter(is_project_markdown, tree.files):
        text = tree.text(source)
        if text is not None:
            problems.extend(describe(source, link, target)
                            for link, target in broken(source, text))
    return problems


def fix_broken(tree: SourceTree, only: Sequence[Problem] | None, broken: Broken,
               describe: Describe, mend: Mend) -> FixResult:
    """Rewrite each broken link (of `only`, when given) that `mend` gives a new destination,
    with a note per link on what was done or why it was left."""
    # `link_problem` keys a problem by its link's destination, so a problem names its link.
    wanted = None if only is None else {(p.file, p.key) for p in only}
    sources = [s for s in filter(is_project_markdown, tree.files)
               if wanted is None or any(file == s for file, _ in wanted)]
    fixed, unfixed, notes = 0, [], []
    for source in sources:
        text = tree.text(source)
        if text is None:
            continue
        edits: list[tuple[Link, str]] = []
        for link, target in broken(source, text):
            if wanted is not None and (source, link.dest) not in wanted:
                continue
            where = f"{source}:{link.line}"
            new = mend(source, link, target)
            if isinstance(new, Left):
                unfixed.append(describe(source, link, target))
                notes.append(f"{where}: left {link.dest}: {new.why}")
                continue
            edits.append((link, new))
            notes.append(f"{where}: {link.dest} -> {new}")
        if edits:
            tree.write(source, splice(text, edits))
            fixed += len(edits)
    return FixResult(fixed=fixed, unfixed=unfixed, notes=notes)
