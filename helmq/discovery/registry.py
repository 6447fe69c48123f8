"""Discovery strategies by name. jobs.yaml names them; an unknown name is a config error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from helmq.discovery.autodo_scan import scan_todo_files
from helmq.discovery.code_comments import SOURCE as COMMENT_SOURCE
from helmq.discovery.code_comments import scan_code_comments
from helmq.discovery.result import ScanResult
from helmq.errors import InputError

Strategy = Callable[[Sequence[Path]], ScanResult]


def autodo_scan(repos: Sequence[Path]) -> ScanResult:
    """TODO.md items and TODO/FIXME comments in code, in every repo.

    A repo that cannot be read is a warning, not a stop, and does not count as scanned.
    """
    merged = ScanResult(findings=[], warnings=[])
    for repo in repos:
        try:
            parts = [scan_todo_files(repo), scan_code_comments(repo)]
        except InputError as exc:
            merged.warnings.append(str(exc))
            continue
        for part in parts:
            merged.findings.extend(part.findings)
            merged.warnings.extend(part.warnings)
            merged.skipped_files.extend(part.skipped_files)
        merged.scanned.append(str(repo))
    return merged


STRATEGIES: dict[str, Strategy] = {"autodo_scan": autodo_scan}
SOURCES: dict[str, frozenset[str]] = {"autodo_scan": frozenset({"todo_md", COMMENT_SOURCE})}
"""The `data.source` each strategy writes, so a rescan knows which items it may mark gone."""
