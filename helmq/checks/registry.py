"""Named script checks: a detector that finds problems, a fixer, and the files a fix may touch."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from helmq.errors import UnknownCheckError


@dataclass(frozen=True)
class Problem:
    """One finding of a detector, at a line of a root-relative posix path."""

    file: str
    line: int
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    """Check-specific facts, e.g. the broken link target or the ruff rule code."""
    key: str = ""
    """Its identity within its file, stable when lines move: the link destination for links
    and anchors, `port:8000` for ports, the variable's name for env vars."""

    def is_target(self, target: Mapping[str, Any]) -> bool:
        """Whether this is the problem an item's `{"file": …, "key": …}` names."""
        return self.file == target.get("file") and self.key == target.get("key")


@dataclass(frozen=True)
class FixResult:
    """What a fixer did: how many problems it fixed, which it left, and why."""

    fixed: int
    unfixed: list[Problem]
    notes: list[str]


class Check(Protocol):
    """A deterministic detector/fixer pair run by the script tier and re-run by review."""

    name: str
    needs_worktree: bool
    """False when the fixer changes no files, so no branch is needed."""
    reports_only: bool
    """True when the fixer fixes nothing: what the detector finds is reported to a person."""

    @property
    def keywords(self) -> tuple[str, ...]:
        """Lowercase words or phrases that, found in an item title, mean this check applies."""
        ...

    def detect(self, root: Path) -> list[Problem]:
        """The problems found under `root`."""
        ...

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Fix what can be fixed (of `only`, when given), editing files under `root` only."""
        ...

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """The root-relative files a fix of `problems` may touch; None means any file."""
        ...


_CHECKS: dict[str, Check] = {}


def register(check: Check) -> None:
    """Make `check` available by name; a later check with the same name replaces it."""
    _CHECKS[check.name] = check


def get_check(name: str) -> Check:
    """The check called `name`."""
    try:
        return _CHECKS[name]
    except KeyError:
        known = ", ".join(_CHECKS) or "none"
        raise UnknownCheckError(
            f"no script check is called {name!r} (known: {known}); fix the item's `check`"
        ) from None


def match_check(title: str) -> Check | None:
    """The first registered check with a keyword in `title`, if any."""
    words = " ".join(title.lower().split())
    for check in _CHECKS.values():
        # A keyword must start a word ("lint" in "linting", not in "splinter").
        if any(re.search(rf"(?<!\w){re.escape(kw)}", words) for kw in check.keywords):
            return check
    return None


def reports_only(check: Check) -> bool:
    """Whether the check only reports its problems; a check without the flag fixes them."""
    return bool(getattr(check, "reports_only", False))


def targeted(problems: Iterable[Problem], target: Mapping[str, Any] | None) -> list[Problem]:
    """The problems an item is about: those matching its `problem`, or all without one."""
    if target is None:
        return list(problems)
    return [problem for problem in problems if problem.is_target(target)]


def all_checks() -> list[Check]:
    """Every registered check, in registration order."""
    return list(_CHECKS.values())
