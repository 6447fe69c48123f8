"""Items in the states the doctor looks at: shared by its integration and acceptance tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.model import Finding
from helmq.store.repository import Repository

JOB = "maint"
NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)
LEASE = 600.0


def add_items(repo: Repository, *titles: str, at: datetime, job: str = JOB) -> None:
    findings = []
    for title in titles:
        fp = fingerprint("/src/a", "TODO.md", title)
        findings.append(Finding(fp, item_key(title, fp), title, "TODO.md", 1,
                                data={"title": title, "repo": "/src/a"}))
    repo.upsert_findings(job, findings, sources={"todo_md"}, repos=("/src/a",), now=at)


def queue_all(repo: Repository, at: datetime, job: str = JOB):
    return repo.claim_eligible(job, accept=lambda _i: True, limit=100, lease_seconds=LEASE,
                               now=at)
