"""What one discovery pass over a repository returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from helmq.domain.model import Finding


@dataclass
class ScanResult:
    """The findings of a scan, and warnings about what it skipped (each names its file)."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)
    """The repos read completely. Only their missing items may be marked gone: a repo that
    could not be read (unmounted, not a directory) must not make its items disappear."""
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    """(repo, repo-relative path) of every TODO file the scan found but could not read (binary,
    too big, not UTF-8, unreadable). Its known items are left as they are, not marked gone."""
