"""The beat schedule, built from jobs.yaml when beat starts: discovery per job, dispatch,
reconcile. Only beat builds it: workers never read the schedule."""

from __future__ import annotations

from typing import Any

from celery.beat import PersistentScheduler

from helmq import runtime
from helmq.config.settings import Settings
from helmq.domain.jobs import JobsConfig

SCHEDULER = "beat_schedule:JobsScheduler"
"""What tasks.app sets as `beat_scheduler`: `celery beat`, `helmq beat` and `helmq up`."""


def build_schedule(jobs: JobsConfig, settings: Settings) -> dict[str, dict[str, Any]]:
    """One scan entry per job with discovery, plus the dispatch and reconcile ticks."""
    schedule: dict[str, dict[str, Any]] = {
        "helmq-dispatch": {"task": "helmq.dispatch", "schedule": settings.dispatch_interval},
        "helmq-reconcile": {"task": "helmq.reconcile", "schedule": settings.reconcile_interval},
    }
    for name, job in jobs.jobs.items():
        if job.discovery is not None:
            schedule[f"helmq-scan-{name}"] = {
                "task": "helmq.scan",
                "schedule": float(job.discovery.interval),
                "args": (name,),
            }
    return schedule


class JobsScheduler(PersistentScheduler):
    """Celery's persistent scheduler, with the entries of this process's jobs.yaml."""

    def setup_schedule(self) -> None:
        rt = runtime.current()
        self.app.conf.beat_schedule = build_schedule(rt.jobs, rt.settings)
        super().setup_schedule()
