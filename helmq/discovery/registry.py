"""Discovery strategies by name. jobs.yaml names them; an unknown name is a config error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from helmq.discovery.autodo_scan import scan_todo_files
from helmq.discovery.result import ScanResult
from helmq.errors import InputError

Strategy = Callable[[Sequence[Path]], ScanResult]


def autodo_scan(repos: Sequence[Path]) -> ScanResult:
    """TODO.md items in every repo; a repo that cannot be read is a warning, not a stop."""
    merged = ScanResult(findings=[], warnings=[])
    for repo in repos:
        try:
            part = scan_todo_files(repo)
        except InputError as exc:
            merged.warnings.append(str(exc))
            continue
        merged.findings.extend(part.findings)
        merged.warnings.extend(part.warnings)
        merged.skipped_files.extend(part.skipped_files)
        merged.scanned.append(str(repo))
    return merged


STRATEGIES: dict[str, Strategy] = {"autodo_scan": autodo_scan}
SOURCES: dict[str, frozenset[str]] = {"autodo_scan": frozenset({"todo_md"})}
"""The `data.source` each strategy writes, so a rescan knows which items it may mark gone."""
