"""A discovery pass: run each job's strategy over the repos and upsert what it found."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helmq.discovery.registry import SOURCES, STRATEGIES
from helmq.errors import ConfigError
from helmq.jobs import JobsConfig
from helmq.store.repository import Repository, ScanCounts

log = logging.getLogger(__name__)


@dataclass
class JobScan:
    """One job's discovery pass."""

    job: str
    counts: ScanCounts
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"job": self.job, **self.counts.as_dict(), "warnings": self.warnings}


def scan_jobs(
    repo: Repository,
    jobs: JobsConfig,
    *,
    repos: Sequence[Path] | None = None,
    only: str | None = None,
    cache_dir: Path | None = None,
) -> list[JobScan]:
    """Scan every job with a discovery strategy (or just `only`) and record the findings.

    With a cache_dir the strategies keep a per-file cache there, so files unchanged since the
    last scan are not read again."""
    if only is not None and only not in jobs.jobs:
        raise ConfigError(f"no job named {only!r} (jobs: {', '.join(sorted(jobs.jobs))})",
                          key="--job")
    targets = [Path(r).expanduser().resolve() for r in (repos or jobs.repos)]
    out = []
    for name, job in jobs.jobs.items():
        if (only and name != only) or job.discovery is None:
            continue
        strategy = STRATEGIES[job.discovery.strategy]
        result = (strategy(targets) if cache_dir is None
                  else strategy(targets, cache_dir=cache_dir))
        for warning in result.warnings:
            log.warning("%s: %s", name, warning)
        counts = repo.upsert_findings(
            name,
            result.findings,
            sources=SOURCES[job.discovery.strategy],
            repos=result.scanned,
            skipped=result.skipped_files,
        )
        out.append(JobScan(name, counts, list(result.warnings)))
    return out
