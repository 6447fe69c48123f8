"""The `noop` check: finds nothing and changes nothing, to measure the pipeline's own overhead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from helmq.checks.registry import FixResult, Problem


class NoopCheck:
    """A check that always passes."""

    name = "noop"
    keywords = ("noop check",)
    needs_worktree = False
    reports_only = False

    def detect(self, root: Path) -> list[Problem]:
        """Nothing, ever."""
        return []

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Change nothing."""
        return FixResult(fixed=0, unfixed=[], notes=["nothing to do"])

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """No file may change."""
        return set()


CHECK = NoopCheck()
