"""Discovery strategies by name. jobs.yaml names them; an unknown name is a config error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from helmq.discovery.autodo_scan import scan_todo_files
from helmq.discovery.cache import FileCache
from helmq.discovery.code_comments import SOURCE as COMMENT_SOURCE
from helmq.discovery.code_comments import scan_code_comments
from helmq.discovery.conventions import SOURCE as CONVENTIONS_SOURCE
from helmq.discovery.conventions import check_repo
from helmq.discovery.doc_health import SOURCE as DOC_HEALTH_SOURCE
from helmq.discovery.doc_health import doc_health as doc_health_scan
from helmq.discovery.feed import SOURCE as FEED_SOURCE
from helmq.discovery.feed import feed
from helmq.discovery.result import ScanResult
from helmq.domain.jobs import Discovery
from helmq.domain.model import Source
from helmq.errors import InputError
from helmq.repos.files import existing_repo, repo_listing

Strategy = Callable[..., ScanResult]
"""Called with the repos, and optionally `cache_dir=` (where it may keep a per-file cache)
and `discovery=` (the job's discovery settings, for strategies that take options)."""

RepoScan = Callable[[Path, FileCache | None, Sequence[Path]], list[ScanResult]]
"""What a strategy does in one readable repo: (repo, its cache, its files) -> results."""


def each_repo(repos: Sequence[Path], cache_dir: Path | None, scan: RepoScan) -> ScanResult:
    """Run `scan` over every repo and merge the results.

    A repo that cannot be read is a warning, not a stop, and does not count as scanned. With
    a cache_dir, files unchanged since the last scan (same mtime, size, inode, ctime) are not
    read again: their findings come from a per-repo cache there; outside git, folders
    unchanged since (same mtime, ctime, inode) are not listed again either.
    """
    merged = ScanResult(findings=[], warnings=[])
    for repo in repos:
        try:
            cache = FileCache(cache_dir, repo) if cache_dir is not None else None
            root = existing_repo(repo)
            # One listing for every scanner; outside git, unchanged folders are not listed.
            files = repo_listing(root, cache.folders if cache is not None else None)
            parts = scan(root, cache, files)
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


def autodo_scan(repos: Sequence[Path], *, cache_dir: Path | None = None,
                discovery: Discovery | None = None) -> ScanResult:
    """TODO.md items and TODO/FIXME comments in code, in every repo."""
    return each_repo(repos, cache_dir, lambda repo, cache, files: [
        scan_todo_files(repo, cache=cache, files=files),
        scan_code_comments(repo, cache=cache, files=files),
    ])


def conventions(repos: Sequence[Path], *, cache_dir: Path | None = None,
                discovery: Discovery | None = None) -> ScanResult:
    """Violations of the job's convention rules, in every repo."""
    rules = discovery.rules if discovery is not None else ()
    return each_repo(repos, cache_dir, lambda repo, cache, files: [
        check_repo(repo, rules, cache=cache, files=files),
    ])


def doc_health(repos: Sequence[Path], *, cache_dir: Path | None = None,
               discovery: Discovery | None = None) -> ScanResult:
    """Broken links and anchors, ports and env vars that docs and config disagree on."""
    return doc_health_scan(repos, cache_dir=cache_dir)


STRATEGIES: dict[str, Strategy] = {
    "autodo_scan": autodo_scan,
    "conventions": conventions,
    "doc_health": doc_health,
    "feed": feed,
}
SOURCES: dict[str, frozenset[str]] = {
    "autodo_scan": frozenset({Source.TODO_MD, COMMENT_SOURCE}),
    "conventions": frozenset({CONVENTIONS_SOURCE}),
    "doc_health": frozenset({DOC_HEALTH_SOURCE}),
    "feed": frozenset({FEED_SOURCE}),
}
"""The `data.source` each strategy writes, so a rescan knows which items it may mark gone."""
REPOLESS = frozenset({"feed"})
"""Strategies that read no repository (their source is in their settings): run once a pass."""
