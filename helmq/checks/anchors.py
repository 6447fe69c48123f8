"""The `anchors` check: Markdown links to a heading (`page.md#section`, `#section`) that the
page does not have."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path

from helmq.checks.broken_links import Left, exists, find_broken, fix_broken, link_problem
from helmq.checks.markdown import Link, anchors, link_target, scan_links
from helmq.checks.registry import FixResult, Problem
from helmq.checks.sources import SourceTree, is_markdown

# Anchors a browser or GitHub resolves without any heading: the page top, a line of code.
_BUILTIN = re.compile(r"top|L\d+(?:C\d+)?(?:-L\d+(?:C\d+)?)?", re.IGNORECASE)
_USER_CONTENT = "user-content-"


def _variants(anchor: str) -> set[str]:
    """The spellings that reach `anchor`: GitHub compares case-insensitively; MkDocs and
    other renderers collapse runs of hyphens and number a repeated heading `_1`."""
    lower = anchor.lower()
    collapsed = re.sub(r"-+", "-", lower).strip("-")
    return {lower, collapsed, re.sub(r"-(\d+)$", r"_\1", collapsed)}


def _squashed(anchor: str) -> str:
    return re.sub(r"[\W_]+", "", anchor.lower())


def _words(anchor: str) -> frozenset[str]:
    return frozenset(re.findall(r"[^\W_]+", anchor.lower()))


class _Pages:
    """The anchors of each Markdown page of a tree, read once."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self._anchors: dict[str, list[str] | None] = {}

    def anchors(self, rel: str) -> list[str] | None:
        """The page's anchors in page order, or None when it cannot be read."""
        if rel not in self._anchors:
            text = self.tree.text(rel)
            self._anchors[rel] = None if text is None else anchors(text)
        return self._anchors[rel]


def _broken(pages: _Pages, source: str, text: str) -> Iterator[tuple[Link, str]]:
    """(link, target page) for every link to an anchor the page lacks."""
    for link in scan_links(text):
        fragment = link.fragment
        if not fragment or _BUILTIN.fullmatch(fragment):
            continue
        target = link_target(source, link)
        # A missing page is the links check's problem; other files have no headings.
        if target is None or not is_markdown(target) or not exists(pages.tree.root / target):
            continue
        found = pages.anchors(target)
        if found is None:
            continue
        wanted = fragment.lower().removeprefix(_USER_CONTENT)
        if not wanted or any(wanted in _variants(anchor) for anchor in found):
            continue
        yield link, target


def _problem(source: str, link: Link, target: str) -> Problem:
    return link_problem(source, link, target, f"{target} has no anchor #{link.fragment}",
                        anchor=link.fragment)


def closest(fragment: str, found: Iterable[str]) -> list[str]:
    """The anchors `fragment` most likely meant: the same letters and digits, else the same
    words. More than one means no guess."""
    unique = list(dict.fromkeys(found))
    same = [anchor for anchor in unique if _squashed(anchor) == _squashed(fragment)]
    if same:
        return same
    return [anchor for anchor in unique if _words(anchor) == _words(fragment)]


class AnchorsCheck:
    """Links to missing headings in Markdown; fixed when exactly one heading is a close match."""

    name = "anchors"
    keywords = ("broken anchor", "dead anchor", "anchor link", "fix anchors")
    needs_worktree = True
    reports_only = False

    def inspect(self, tree: SourceTree) -> list[Problem]:
        """Every Markdown link in `tree` to an anchor its page does not have."""
        return find_broken(tree, partial(_broken, _Pages(tree)), _problem)

    def detect(self, root: Path) -> list[Problem]:
        """Every Markdown link to an anchor its page does not have."""
        return self.inspect(SourceTree(root))

    def title(self, problem: Problem) -> str:
        """What an item about `problem` is called."""
        return f"Broken anchor in {problem.file}: {problem.key}"

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Point each broken anchor link (of `only`, when given) at the one heading that is a
        close match: the same letters and digits, or the same words."""
        tree = SourceTree(root)
        pages = _Pages(tree)

        def mend(source: str, link: Link, target: str) -> str | Left:
            # `_broken` yields only pages it has read, so their anchors are cached, not None.
            guesses = closest(link.fragment or "", pages.anchors(target) or [])
            if len(guesses) != 1:
                return Left("no heading is close" if not guesses
                            else f"{len(guesses)} headings are close: "
                            + ", ".join(f"#{g}" for g in guesses))
            return link.with_fragment(guesses[0])

        return fix_broken(tree, only, partial(_broken, pages), _problem, mend)

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """Only the Markdown files with the broken anchor links."""
        return {problem.file for problem in problems}


CHECK = AnchorsCheck()
