"""The doctor's checks and `--fix`, on SQLite and Postgres (`helmq doctor` as a process is in
tests/acceptance/test_doctor.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helmq.config.settings import Settings
from helmq.doctor.diagnose import Severity, diagnose
from helmq.doctor.fix import reconcile
from helmq.domain.jobs import Budget, Discovery, JobConfig, JobsConfig
from helmq.domain.model import Stage, Status
from helmq.domain.outcome import Outcome
from helmq.runtime import stage_context
from helmq.store.repository import Repository
from helmq.store.rows import ScanCounts
from tests.support.doctor import HOUR, JOB, LEASE, NOW, add_items, queue_all

JOBS = JobsConfig(repos=(), budget=Budget(daily_usd=5.0), source="<test>",
                  jobs={JOB: JobConfig(JOB, discovery=Discovery("autodo_scan", interval=3600))})
NO_DISCOVERY = JobsConfig(repos=(), budget=Budget(), source="<test>", jobs={JOB: JobConfig(JOB)})


def settings(tmp_path: Path, url: str) -> Settings:
    return Settings.from_env({"HELMQ_STATE_DIR": str(tmp_path), "HELMQ_DATABASE_URL": url})


def by_check(report) -> dict[str, object]:
    return {c.name: c for c in report.checks}


def test_an_empty_database_is_healthy(repo, tmp_path):
    report = diagnose(repo.engine, NO_DISCOVERY, settings(tmp_path, "sqlite://"))
    assert report.healthy
    assert {c.severity for c in report.checks} == {Severity.OK}
    assert {"stuck", "failures", "needs_work", "breakers", "budget"} <= set(by_check(report))


def test_a_stuck_item_fails_and_fix_requeues_it(repo, tmp_path):
    # Given an item claimed by classify two hours ago whose worker vanished
    add_items(repo, "stuck one", at=NOW - 3 * HOUR)
    [d] = queue_all(repo, NOW - 2 * HOUR)
    assert repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=LEASE,
                            now=NOW - 2 * HOUR)
    cfg = settings(tmp_path, "sqlite://")

    # When the doctor looks
    report = diagnose(repo.engine, NO_DISCOVERY, cfg)

    # Then it is unhealthy and names the item
    stuck = by_check(report)["stuck"]
    assert stuck.severity is Severity.FAIL and stuck.count == 1
    assert stuck.ids == [d.handoff["item"]] and "classifying" in stuck.summary
    assert not report.healthy

    # When --fix runs without a broker to publish to
    done = reconcile(repo, cfg, stage_context(cfg), publish=None)

    # Then the item is queued again under a new token, and the doctor is satisfied
    item = repo.get_item(d.handoff["item"])
    assert item.status is Status.QUEUED and item.attempt == d.handoff["attempt"] + 1
    assert item.stage is Stage.CLASSIFY
    assert any("re-queued 1 item" in line and "next `helmq up`" in line for line in done)
    after = diagnose(repo.engine, NO_DISCOVERY, cfg)
    assert after.healthy
    assert by_check(after)["requeued"].ids == [item.id]


def test_fix_publishes_when_there_is_a_broker(repo, tmp_path):
    add_items(repo, "lost message", at=NOW - 3 * HOUR)
    [d] = queue_all(repo, NOW - 2 * HOUR)
    sent = []
    cfg = settings(tmp_path, "sqlite://")
    done = reconcile(repo, cfg, stage_context(cfg), publish=lambda ds: sent.extend(ds) or len(ds))
    assert [s.handoff["item"] for s in sent] == [d.handoff["item"]]
    assert [s.handoff["attempt"] for s in sent] == [d.handoff["attempt"] + 1]
    assert any("re-sent 1 item" in line for line in done)


def test_a_recently_expired_lease_only_warns(repo, tmp_path):
    now = datetime.now(UTC)
    add_items(repo, "just expired", at=now - HOUR)
    queue_all(repo, now - timedelta(seconds=LEASE + 30))
    report = diagnose(repo.engine, NO_DISCOVERY, settings(tmp_path, "sqlite://"), now=now)
    assert by_check(report)["stuck"].severity is Severity.WARN
    assert report.healthy


def fail_item(repo: Repository, d, cls: str, at: datetime) -> None:
    claim = repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=LEASE, now=at)
    repo.finish_stage(claim, Outcome(Status.FAILED, "failed", cls, failure_class=cls),
                      max_review_rounds=3, lease_seconds=LEASE, now=at)


def test_failures_are_grouped_by_class(repo, tmp_path):
    add_items(repo, "a", "b", "c", at=NOW - timedelta(days=4))
    a, b, c = sorted(queue_all(repo, NOW - timedelta(days=3)), key=lambda d: d.handoff["item"])
    fail_item(repo, a, "crash", NOW - timedelta(days=2))
    fail_item(repo, b, "crash", NOW - HOUR)
    fail_item(repo, c, "lost", NOW - timedelta(days=2))

    checks = by_check(diagnose(repo.engine, NO_DISCOVERY, settings(tmp_path, "sqlite://")))

    crash, lost = checks["failed:crash"], checks["failed:lost"]
    assert crash.count == 2 and crash.ids == [a.handoff["item"], b.handoff["item"]]
    assert "1 in the last 24 h" in crash.summary and crash.severity is Severity.WARN
    assert "1 stage run(s)" in crash.summary and "helmq show" in crash.advice
    assert lost.count == 1 and lost.severity is Severity.OK and "workers" in lost.advice
    assert "failures" not in checks


def test_waiting_items_are_grouped_by_reason(repo, tmp_path):
    add_items(repo, "w1", "w2", at=NOW - HOUR)
    for d in queue_all(repo, NOW - HOUR):
        claim = repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=LEASE, now=NOW)
        repo.finish_stage(claim, Outcome(Status.WAITING, "waiting", "no key",
                                         waiting_reason="no_credentials"),
                          max_review_rounds=3, lease_seconds=LEASE, now=NOW)
    report = diagnose(repo.engine, NO_DISCOVERY, settings(tmp_path, "sqlite://"))
    waiting = by_check(report)["waiting:no_credentials"]
    assert waiting.count == 2 and waiting.severity is Severity.WARN
    assert "ANTHROPIC_API_KEY" in waiting.advice and report.healthy


def test_an_open_breaker_fails_and_a_cooled_one_is_closed_by_fix(repo, tmp_path):
    cfg = settings(tmp_path, "sqlite://")
    repo.open_breaker("claude_session", "claude CLI missing", cooldown_seconds=600)
    repo.open_breaker("vario", "key refused", cooldown_seconds=60, now=NOW - HOUR)

    report = diagnose(repo.engine, NO_DISCOVERY, cfg)

    checks = by_check(report)
    assert checks["breaker:claude_session"].severity is Severity.FAIL
    assert "claude CLI missing" in checks["breaker:claude_session"].summary
    assert checks["breaker:vario"].severity is Severity.WARN
    assert not report.healthy
    done = reconcile(repo, cfg, stage_context(cfg), publish=None)
    assert "closed cooled-down breaker(s): vario" in done
    assert [b.tier for b in repo.tier_breakers()] == ["claude_session"]


def test_scans_warn_when_missing_stale_or_with_warnings(repo, tmp_path):
    cfg = settings(tmp_path, "sqlite://")
    assert by_check(diagnose(repo.engine, JOBS, cfg))[f"scan:{JOB}"].summary == "never scanned"

    repo.record_scan(JOB, "autodo_scan", started_at=NOW - 4 * HOUR, repos=["/src/a"],
                     counts=ScanCounts(), warnings=[], finished_at=NOW - 4 * HOUR)
    stale = by_check(diagnose(repo.engine, JOBS, cfg))[f"scan:{JOB}"]
    assert stale.severity is Severity.WARN and "4 h ago" in stale.summary

    repo.record_scan(JOB, "autodo_scan", started_at=NOW, repos=["/src/a"],
                     counts=ScanCounts(), warnings=["/src/a: not a git repo"], finished_at=NOW)
    warned = by_check(diagnose(repo.engine, JOBS, cfg))[f"scan:{JOB}"]
    assert warned.severity is Severity.WARN and "not a git repo" in warned.summary

    repo.record_scan(JOB, "autodo_scan", started_at=NOW, repos=["/src/a"],
                     counts=ScanCounts(), warnings=[], finished_at=NOW)
    report = diagnose(repo.engine, JOBS, cfg)
    assert by_check(report)[f"scan:{JOB}"].severity is Severity.OK and report.healthy
