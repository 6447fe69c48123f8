"""A discovery pass: run each job's strategy over the repos and upsert what it found."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helmq.discovery.registry import REPOLESS, SOURCES, STRATEGIES
from helmq.discovery.result import ScanResult
from helmq.domain.clock import utcnow
from helmq.domain.jobs import JobConfig, JobsConfig
from helmq.errors import ConfigError
from helmq.store.repository import Repository, ScanCounts

log = logging.getLogger(__name__)

Progress = Callable[[str, Path, int, int], None]
"""Told (job, repo, index, total) before each repo of each job is scanned."""


@dataclass
class JobScan:
    """One job's discovery pass."""

    job: str
    counts: ScanCounts
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"job": self.job, **self.counts.as_dict(), "warnings": self.warnings,
                "seconds": round(self.seconds, 3)}


def _discover(job: JobConfig, targets: Sequence[Path], cache_dir: Path | None,
              progress: Progress | None) -> ScanResult:
    """The job's strategy over every repo, one repo at a time so progress can be shown."""
    assert job.discovery is not None
    strategy = STRATEGIES[job.discovery.strategy]
    # Each job keeps its own cache: two strategies over one repo must not evict each other.
    job_cache = cache_dir / job.name if cache_dir is not None else None
    if job.discovery.strategy in REPOLESS:
        # Its source is in its settings (a feed's url): once a pass, whatever the repos.
        if progress is not None:
            progress(job.name, Path(job.discovery.url or job.name), 0, 1)
        return _with_recurrence(job, strategy([], cache_dir=job_cache,
                                              discovery=job.discovery))
    merged = ScanResult()
    for index, target in enumerate(targets):
        if progress is not None:
            progress(job.name, target, index, len(targets))
        part = strategy([target], cache_dir=job_cache, discovery=job.discovery)
        merged.findings.extend(part.findings)
        merged.warnings.extend(part.warnings)
        merged.scanned.extend(part.scanned)
        merged.skipped_files.extend(part.skipped_files)
    return _with_recurrence(job, merged)


def _with_recurrence(job: JobConfig, result: ScanResult) -> ScanResult:
    """The job's recurrence on every finding that does not set its own."""
    recurrence = job.discovery.recurrence if job.discovery else None
    if recurrence is not None:
        result.findings = [f if f.recurrence else dataclasses.replace(f, recurrence=recurrence)
                           for f in result.findings]
    return result


def scan_jobs(
    repo: Repository,
    jobs: JobsConfig,
    *,
    repos: Sequence[Path] | None = None,
    only: str | None = None,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> list[JobScan]:
    """Scan every job with a discovery strategy (or just `only`) and record the findings.

    With a cache_dir the strategies keep a per-file cache there, so files unchanged since the
    last scan are not read again. Each job's pass is recorded in `scans`; a pass that found
    nothing new writes that row and nothing else."""
    if only is not None and only not in jobs.jobs:
        raise ConfigError(f"no job named {only!r} (jobs: {', '.join(sorted(jobs.jobs))})",
                          key="--job")
    targets = [Path(r).expanduser().resolve() for r in (repos or jobs.repos)]
    out = []
    for name, job in jobs.jobs.items():
        if (only and name != only) or job.discovery is None:
            continue
        started, clock = utcnow(), time.monotonic()
        result = _discover(job, targets, cache_dir, progress)
        for warning in result.warnings:
            log.warning("%s: %s", name, warning)
        counts = repo.upsert_findings(
            name,
            result.findings,
            sources=SOURCES[job.discovery.strategy],
            repos=result.scanned,
            skipped=result.skipped_files,
        )
        repo.record_scan(name, job.discovery.strategy, started_at=started,
                         repos=result.scanned, counts=counts, warnings=result.warnings)
        out.append(JobScan(name, counts, list(result.warnings), time.monotonic() - clock))
    return out


def scan_with_progress(repo: Repository, jobs: JobsConfig, **kw) -> list[JobScan]:
    """`scan_jobs` with a progress line on stderr when it takes more than a second."""
    from helmq.control.progress import ProgressLine

    with ProgressLine() as line:
        def show(job: str, target: Path, index: int, total: int) -> None:
            where = f" ({index + 1}/{total})" if total > 1 else ""
            line.update(f"scanning {job}: {target}{where}")

        return scan_jobs(repo, jobs, progress=show, **kw)
