"""The `links` check: relative Markdown links whose target file does not exist."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from helmq.checks.markdown import Link, link_target, relative_dest, scan_links, splice
from helmq.checks.registry import FixResult, Problem
from helmq.checks.sources import SourceTree, is_project_markdown


def exists(path: Path) -> bool:
    """Whether a file or directory is there; a name the file system refuses is not."""
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system: no such file either
        return False


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
    return Problem(
        file=source,
        line=link.line,
        message=f"link to {link.dest} is broken: {target} does not exist",
        detail={"target": link.dest, "path": target, "column": link.start + 1},
        key=link.dest,
    )


class LinksCheck:
    """Broken relative links in Markdown; fixed when the target's name is unique in the repo."""

    name = "links"
    keywords = ("broken link", "dead link", "fix links", "link check", "relative link")
    needs_worktree = True
    reports_only = False

    def inspect(self, tree: SourceTree) -> list[Problem]:
        """Every relative link in a Markdown file of `tree` whose target does not exist."""
        problems = []
        for source in filter(is_project_markdown, tree.files):
            text = tree.text(source)
            if text is not None:
                problems.extend(_problem(source, link, target)
                                for link, target in _broken(tree.root, source, text))
        return problems

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
        wanted = None if only is None else {(p.file, p.key) for p in only}
        sources = [s for s in filter(is_project_markdown, tree.files)
                   if wanted is None or any(file == s for file, _ in wanted)]
        by_name: dict[str, list[str]] = defaultdict(list)
        for name in tree.files:
            by_name[posixpath.basename(name)].append(name)
        fixed, unfixed, notes = 0, [], []
        for source in sources:
            text = tree.text(source)
            if text is None:
                continue
            edits: list[tuple[Link, str]] = []
            for link, target in _broken(root, source, text):
                if wanted is not None and (source, link.dest) not in wanted:
                    continue
                where = f"{source}:{link.line}"
                found = [] if link.path.endswith("/") else by_name[posixpath.basename(target)]
                if len(found) != 1:
                    why = (
                        "no file has its name" if not found else f"{len(found)} files have its name"
                    )
                    unfixed.append(_problem(source, link, target))
                    notes.append(f"{where}: left {link.dest}: {why}")
                    continue
                new = relative_dest(source, link, found[0])
                edits.append((link, new))
                notes.append(f"{where}: {link.dest} -> {new}")
            if edits:
                tree.write(source, splice(text, edits))
                fixed += len(edits)
        return FixResult(fixed=fixed, unfixed=unfixed, notes=notes)

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """Only the Markdown files that have broken links."""
        return {problem.file for problem in problems}


CHECK = LinksCheck()
