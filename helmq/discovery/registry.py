"""Discovery strategies by name. jobs.yaml names them; an unknown name is a config error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from helmq.discovery.autodo_scan import scan_todo_files
from helmq.discovery.cache import FileCache
from helmq.discovery.code_comments import SOURCE as COMMENT_SOURCE
from helmq.discovery.code_comments import scan_code_comments
from helmq.discovery.files import existing_repo, repo_files
from helmq.discovery.result import ScanResult
from helmq.errors import InputError

Strategy = Callable[..., ScanResult]
"""Called with the repos, and optionally `cache_dir=`: where it may keep a per-file cache."""


def autodo_scan(repos: Sequence[Path], *, cache_dir: Path | None = None) -> ScanResult:
    """TODO.md items and TODO/FIXME comments in code, in every repo.

    A repo that cannot be read is a warning, not a stop, and does not count as scanned.
    With a cache_dir, files unchanged since the last scan (same mtime, size, inode, ctime) are not
    read again: their findings come from a per-repo cache there.
    """
    merged = ScanResult(findings=[], warnings=[])
    for repo in repos:
        try:
            cache = FileCache(cache_dir, repo) if cache_dir is not None else None
            # One listing (git ls-files) serves both scanners.
            files = repo_files(existing_repo(repo))
            parts = [scan_todo_files(repo, cache=cache, files=files),
                     scan_code_comments(repo, cache=cache, files=files)]
        except InputError as exc:
            merged.warnings.append(str(exc))
            continue
        if cache is not None:
            cache.save()
        for part in parts:
            merged.findings.extend(part.findings)
            merged.warnings.extend(part.warnings)
            merged.skipped_files.extend(part.skipped_files)
        merged.scanned.append(str(repo))
    return merged


STRATEGIES: dict[str, Strategy] = {"autodo_scan": autodo_scan}
SOURCES: dict[str, frozenset[str]] = {"autodo_scan": frozenset({"todo_md", COMMENT_SOURCE})}
"""The `data.source` each strategy writes, so a rescan knows which items it may mark gone."""
