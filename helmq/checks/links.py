"""The `links` check: relative Markdown links whose target file does not exist."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path

from helmq.checks.broken_links import Left, exists, find_broken, fix_broken, link_problem
from helmq.checks.markdown import Link, link_target, relative_dest, scan_links
from helmq.checks.registry import FixResult, Problem
from helmq.checks.sources import SourceTree


def _broken(root: Path, source: str, text: str) -> Iterator[tuple[Link, str]]:
    for link in scan_links(text):
        if not link.path:
            continue  # a link into the same page: the anchors check reads those
        if link.path.startswith("/") and "." not in posixpath.basename(link.path):
            continue  # `/commands/run`: a route of a docs site, not a file of the repo
        target = link_target(source, link)
        if target is not None and not exists(root / target):
            yield link, target


def _problem(source: str, link: Link, target: str) -> Problem:
    return link_problem(source, link, target, f"{target} does not exist")


class LinksCheck:
    """Broken relative links in Markdown; fixed when the target's name is unique in the repo."""

    name = "links"
    keywords = ("broken link", "dead link", "fix links", "link check", "relative link")
    needs_worktree = True
    reports_only = False

    def inspect(self, tree: SourceTree) -> list[Problem]:
        """Every relative link in a Markdown file of `tree` whose target does not exist."""
        return find_broken(tree, partial(_broken, tree.root), _problem)

    def detect(self, root: Path) -> list[Problem]:
        """Every relative link in a Markdown file whose target does not exist."""
        return self.inspect(SourceTree(root))

    def title(self, problem: Problem) -> str:
        """What an item about `problem` is called."""
        return f"Broken link in {problem.file}: {problem.key}"

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Point each broken link (of `only`, when given) at the one file in the repo with the
        target's name."""
        tree = SourceTree(root)
        by_name: dict[str, list[str]] = defaultdict(list)
        for name in tree.files:
            by_name[posixpath.basename(name)].append(name)

        def mend(source: str, link: Link, target: str) -> str | Left:
            found = [] if link.path.endswith("/") else by_name[posixpath.basename(target)]
            if len(found) != 1:
                return Left(
                    "no file has its name" if not found else f"{len(found)} files have its name"
                )
            return relative_dest(source, link, found[0])

        return fix_broken(tree, only, partial(_broken, root), _problem, mend)

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """Only the Markdown files that have broken links."""
        return {problem.file for problem in problems}


CHECK = LinksCheck()
