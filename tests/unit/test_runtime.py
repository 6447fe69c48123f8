"""The composition root: parts built once per process, jobs.yaml parsed once per worker,
the beat schedule built by beat alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.beat import PersistentScheduler

import beat_schedule
from helmq import runtime
from helmq.config import jobs as jobs_module
from helmq.config.settings import Settings
from helmq.runtime import Runtime
from tasks.app import make_celery

JOBS_YAML = """\
jobs:
  maint:
    internal: true
    discovery: { strategy: autodo_scan, interval: 120 }
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "jobs.yaml"
    config.write_text(JOBS_YAML, encoding="utf-8")
    return Settings.from_env({"HELMQ_STATE_DIR": str(tmp_path / "state"),
                              "HELMQ_CONFIG": str(config),
                              "HELMQ_BROKER_URL": "memory://localhost/"})


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path | None]:
    """Every jobs.yaml parse, by path (and this process's runtime restored afterwards)."""
    monkeypatch.setattr(runtime, "_current", None)
    seen: list[Path | None] = []
    real = jobs_module.load_jobs

    def counting(path, **kw):
        seen.append(path)
        return real(path, **kw)

    monkeypatch.setattr(runtime, "load_jobs", counting)
    return seen


def test_a_forked_child_keeps_the_parsed_jobs_and_builds_its_own_engine(settings, parses,
                                                                        monkeypatch):
    # Given a worker parent that parsed jobs.yaml and built its engine
    parent = runtime.install(Runtime(settings))
    jobs = parent.jobs
    monkeypatch.setattr(parent, "pid", -1)  # as a forked child sees its parent's runtime

    # When the child asks for its runtime
    child = runtime.current()

    # Then it has the same jobs without a second parse, and no engine of its parent's
    assert child is not parent and child.jobs is jobs
    assert parses == [settings.config_path]
    assert "engine" not in child.__dict__


# Other tests of this process built apps with the same task names; this one's tasks don't run.
@pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")
def test_only_beat_builds_the_schedule(settings, parses, tmp_path):
    # Given the Celery app a worker or beat builds
    runtime.install(Runtime(settings))
    app = make_celery(runtime.current())
    app.finalize()

    # Then finalizing it (workers do) reads no jobs.yaml and schedules nothing
    assert parses == [] and not app.conf.beat_schedule

    # When beat's scheduler starts, it builds the schedule from the process's jobs
    scheduler = beat_schedule.JobsScheduler(app, schedule_filename=str(tmp_path / "beat"))
    assert isinstance(scheduler, PersistentScheduler)
    assert {"helmq-dispatch", "helmq-reconcile", "helmq-scan-maint"} <= set(scheduler.schedule)
    assert scheduler.schedule["helmq-scan-maint"].args == ("maint",)
    assert parses == [settings.config_path]
    scheduler.close()


def test_the_runtime_builds_each_part_once(settings, parses):
    rt = Runtime(settings)
    assert rt.jobs is rt.jobs and rt.repo is rt.repo and rt.ctx is rt.ctx
    assert rt.ctx.jobs is rt.jobs and rt.ctx.sessions is not None
    assert parses == [settings.config_path]
    narrowed = rt.with_repos([Path("/tmp")])
    assert narrowed.engine is rt.engine and narrowed.jobs.repos == (Path("/tmp"),)
    rt.close()
