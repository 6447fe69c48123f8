"""The `ruff` check: lint findings under the repo's own ruff configuration, and its safe fixes."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from helmq.checks.registry import FixResult, Problem
from helmq.errors import CheckError
from helmq.repos.proc import run_bounded

RUFF_TIMEOUT = 600.0
"""Seconds one ruff run may take before the check fails instead of blocking its worker."""


def _ruff() -> list[str]:
    """The command that runs ruff, preferring the one installed with helmq."""
    if importlib.util.find_spec("ruff") is not None:
        if importlib.util.find_spec("ruff.__main__") is not None:
            return [sys.executable, "-m", "ruff"]
        from ruff import find_ruff_bin

        try:
            return [find_ruff_bin()]
        except FileNotFoundError:
            pass
    binary = shutil.which("ruff")
    if binary is None:
        raise CheckError("ruff is not installed; run `pip install ruff`")
    return [binary]


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not root.is_dir():
        raise CheckError(f"{root}: no such directory to run ruff in; check the repo path")
    argv = [*_ruff(), "check", *args, "--no-cache", "."]
    try:
        return run_bounded(argv, root, timeout=RUFF_TIMEOUT)
    except subprocess.TimeoutExpired:
        shown = " ".join(["ruff", "check", *args, "--no-cache", "."])
        raise CheckError(
            f"{root}: `{shown}` did not finish within {RUFF_TIMEOUT:g} s and was killed; "
            "check the repo's ruff configuration (includes, plugins) and its size"
        ) from None
    except OSError as exc:
        raise CheckError(f"{root}: cannot run ruff ({exc})") from exc


def _crashed(root: Path, proc: subprocess.CompletedProcess[str]) -> CheckError:
    stderr = proc.stderr.strip()[-2000:] or f"exit status {proc.returncode}"
    return CheckError(
        f"{root}: ruff exited {proc.returncode}: {stderr}; check the repo's ruff configuration"
    )


def _relative(root: Path, filename: str) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


class RuffCheck:
    """Ruff violations, each one problem; fixed by `ruff check --fix`."""

    name = "ruff"
    keywords = ("ruff", "lint", "flake8")
    needs_worktree = True
    reports_only = False

    def detect(self, root: Path) -> list[Problem]:
        """Every ruff violation under `root`."""
        proc = _run(root, "--output-format", "json", "--exit-zero")
        if proc.returncode != 0:
            raise _crashed(root, proc)
        try:
            violations = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError as exc:
            raise CheckError(f"{root}: ruff printed something other than JSON ({exc})") from exc
        return [
            Problem(
                file=_relative(root, v["filename"]),
                line=v["location"]["row"],
                # Syntax errors carry no rule code.
                message=f"{v['code'] or 'syntax-error'} {v['message']}",
                detail={
                    "code": v["code"],
                    "column": v["location"]["column"],
                    "fixable": v.get("fix") is not None,
                },
            )
            for v in violations
        ]

    def fix(self, root: Path, only: Sequence[Problem] | None = None) -> FixResult:
        """Apply ruff's safe fixes; what remains is unfixed. `only` is not honoured: ruff
        fixes whole files, and its items name no single violation."""
        before = self.detect(root)
        if not before:
            return FixResult(fixed=0, unfixed=[], notes=["ruff found nothing to fix"])
        proc = _run(root, "--fix")
        # Exit 1 only means violations remain; anything above is ruff failing.
        if proc.returncode > 1:
            raise _crashed(root, proc)
        after = self.detect(root)
        fixed = max(len(before) - len(after), 0)
        notes = [f"ruff fixed {fixed} of {len(before)} violations"]
        return FixResult(fixed=fixed, unfixed=after, notes=notes)

    def scope(self, problems: Iterable[Problem]) -> set[str] | None:
        """Only the files with violations."""
        return {problem.file for problem in problems}


CHECK = RuffCheck()
