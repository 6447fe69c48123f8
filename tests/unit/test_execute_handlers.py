"""The execute stage: a job's `handler:` runs its items (internal jobs too), else the tier
dispatch does; the built-in maintenance job's handler dispatches by tier."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import handlers.codebase_maintenance
from helmq.config.jobs import load_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.item import WorkItem
from helmq.domain.jobs import JobConfig, JobsConfig
from helmq.domain.model import Stage, Status, Tier
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.stages.execute import execute
from helmq.tiers import registry
from helmq.tiers.context import StageContext

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def make_item(job: str, tier: Tier | None) -> WorkItem:
    return WorkItem(
        id=7, job=job, item_key="fix-it-0123", fingerprint="f" * 32, status=Status.EXECUTING,
        stage=Stage.EXECUTE, tier=tier, priority=None, source_file="TODO.md", line=3,
        recurrence=None, last_completed=None, data={"title": "Fix it"}, attempt=1,
        redispatches=0, review_rounds=0, lease_until=None, failure_class=None,
        waiting_reason=None, cost_usd=0.0, session_id=None, branch=None, report_path=None,
        created_at=NOW, updated_at=NOW)


def context(tmp_path: Path, jobs: JobsConfig) -> StageContext:
    return StageContext(worktrees_dir=tmp_path / "worktrees", reports_dir=tmp_path / "reports",
                        llm_credentials=False, retry_waiting_seconds=123.0, jobs=jobs)


@pytest.fixture
def default_jobs() -> JobsConfig:
    return load_jobs(None, strategies=STRATEGIES)


@pytest.fixture
def executors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Tier, WorkItem]]:
    """Every tier's executor replaced by one that records what it was asked to run."""
    ran: list[tuple[Tier, WorkItem]] = []
    for tier in list(registry.EXECUTORS):
        def record(item: WorkItem, ctx: StageContext, tier: Tier = tier) -> Outcome:
            ran.append((tier, item))
            return Outcome.next(Stage.REVIEW, f"ran on {tier}")
        monkeypatch.setitem(registry.EXECUTORS, tier, record)
    return ran


def with_job(jobs: JobsConfig, job: JobConfig) -> JobsConfig:
    return replace(jobs, jobs={**jobs.jobs, job.name: job})


def test_the_built_in_maintenance_job_runs_its_handler_which_dispatches_by_tier(
        tmp_path: Path, default_jobs: JobsConfig, executors: list,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the built-in job, which is internal and names handlers.codebase_maintenance.process
    job = default_jobs.jobs["codebase_maintenance"]
    assert job.internal and job.handler == "handlers.codebase_maintenance.process"
    handled: list[int] = []
    original = handlers.codebase_maintenance.process

    def spy(item: WorkItem, ctx: StageContext) -> Outcome:
        handled.append(item.id)
        return original(item, ctx)

    monkeypatch.setattr(handlers.codebase_maintenance, "process", spy)
    item = make_item("codebase_maintenance", Tier.VARIO)

    # When its item is executed
    outcome = execute(item, context(tmp_path, default_jobs))

    # Then the handler ran and sent the item to its tier's executor
    assert handled == [7]
    assert executors == [(Tier.VARIO, item)]
    assert outcome.message == "ran on vario"


@pytest.mark.parametrize("tier", list(Tier))
def test_the_maintenance_handler_runs_each_tier_on_its_executor(
        tmp_path: Path, default_jobs: JobsConfig, executors: list, tier: Tier) -> None:
    item = make_item("codebase_maintenance", tier)
    outcome = handlers.codebase_maintenance.process(item, context(tmp_path, default_jobs))
    assert executors == [(tier, item)]
    assert outcome.message == f"ran on {tier}"


def test_an_item_on_a_tier_without_an_executor_waits(tmp_path: Path,
                                                     default_jobs: JobsConfig) -> None:
    outcome = registry.execute(make_item("codebase_maintenance", None),
                               context(tmp_path, default_jobs))
    assert outcome == Outcome.waiting(
        WaitReason.TIER_UNAVAILABLE, "tier None has no executor in this helmq version yet; "
        "waiting", retry_after=123.0)


def test_an_internal_job_that_names_a_handler_gets_it(
        tmp_path: Path, default_jobs: JobsConfig, executors: list,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an internal job whose handler is a module of the user's
    module = types.ModuleType("my_handlers")
    module.process = lambda item, ctx: Outcome.next(Stage.REVIEW, f"mine: {item.title}")
    monkeypatch.setitem(sys.modules, "my_handlers", module)
    jobs = with_job(default_jobs, JobConfig(name="mine", internal=True,
                                            handler="my_handlers.process"))

    # When its item is executed
    outcome = execute(make_item("mine", Tier.SCRIPT), context(tmp_path, jobs))

    # Then the handler ran, not the tier
    assert outcome.message == "mine: Fix it"
    assert executors == []


def test_a_job_without_a_handler_runs_on_its_tier(tmp_path: Path, default_jobs: JobsConfig,
                                                  executors: list) -> None:
    assert default_jobs.jobs["doc_health"].handler is None
    item = make_item("doc_health", Tier.SCRIPT)
    outcome = execute(item, context(tmp_path, default_jobs))
    assert executors == [(Tier.SCRIPT, item)]
    assert outcome.message == "ran on script"


def test_an_internal_job_whose_handler_cannot_load_fails_as_bad_handler(
        tmp_path: Path, default_jobs: JobsConfig, executors: list) -> None:
    jobs = with_job(default_jobs, JobConfig(name="mine", internal=True,
                                            handler="handlers.no_such_module.process"))
    outcome = execute(make_item("mine", Tier.SCRIPT), context(tmp_path, jobs))
    assert (outcome.status, outcome.failure_class) == (Status.FAILED, FailureClass.BAD_HANDLER)
    assert outcome.message.startswith("job mine: cannot load its handler: No module named ")
    assert outcome.message.endswith("; fix `handler` in jobs.yaml")
    assert outcome.error == outcome.message
    assert executors == []
