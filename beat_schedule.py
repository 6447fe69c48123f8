"""The beat schedule, built from jobs.yaml: discovery per job, dispatch, reconcile."""

from __future__ import annotations

from typing import Any

from celery import Celery

from helmq import runtime
from helmq.config.jobs import JobsConfig
from helmq.config.settings import Settings


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


def attach_schedule(app: Celery) -> None:
    """Build the schedule when beat starts, so workers never need jobs.yaml to import."""

    @app.on_after_finalize.connect(weak=False)
    def _attach(sender: Celery, **_kw: Any) -> None:
        rt = runtime.current()
        sender.conf.beat_schedule = build_schedule(rt.jobs, rt.settings)
