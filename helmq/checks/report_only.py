"""The scaffolding of a report-only check: it reads a listed tree, and what it finds takes a
person, so its fixer changes nothing and leaves every problem for the report."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from helmq.checks.registry import FixResult, Problem
from helmq.checks.sources import SourceTree


class ReportOnlyCheck(ABC):
    """A check of where two sides of a repo disagree (docs and code, docs and config), whose
    problems are reported, never fixed; a subclass finds them and words them."""

    name: str
    keywords: tuple[str, ...]
    titles: Mapping[str, str]
    """The item title for a problem by its `detail["side"]`, formatted with its detail and
    `file`."""
    not_fixed: str
    """The note a fix run leaves: why these problems are for a person to settle."""
    needs_worktree = False
    reports_only = True

    @abstractmethod
    def inspect(self, tree: SourceTree) -> list[Problem]:
        """The problems in `tree`."""

    def detect(self, root: Path) -> list[Problem]:
        """The problems in the repo under `root`."""
        return self.inspect(SourceTree(root))

    def title(self, problem: Problem) -> str:
        """What an item about `problem` is called."""
        return self.titles[problem.detail["side"]].format_map({**problem.detail,
                                                              "file": problem.file})

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Nothing: every problem (of `only`, when given) is left, with the `not_fixed` note."""
        return FixResult(fixed=0, unfixed=list(only or []), notes=[self.not_fixed])

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """No file may change."""
        return set()
