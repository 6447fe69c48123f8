"""The thin tasks: an id in, a stage function, the outcome recorded by the store."""

from __future__ import annotations

from collections.abc import Iterable

from celery import Celery, Task

from helmq import runtime
from helmq.control.dispatch import dispatch_tick
from helmq.control.reconcile import reconcile as reconcile_leases
from helmq.control.scan import scan_jobs
from helmq.domain.item import Handoff
from helmq.domain.model import Stage
from helmq.stages.runner import run_stage
from helmq.store.repository import Dispatch
from tasks.chains import job_stages, publish


def _publish(app: Celery, dispatches: Iterable[Dispatch]) -> int:
    return publish(app, dispatches, job_stages(runtime.current().jobs))


def _step(task: Task, stage: Stage, handoff: Handoff) -> Handoff | None:
    rt = runtime.current()
    step = run_stage(rt.repo, rt.settings, rt.ctx, stage, handoff,
                     task_id=task.request.id, worker=task.request.hostname)
    if step.next is None:
        task.request.chain = None  # the item left the pipeline: stop the rest of the chain
    if step.rework is not None:
        _publish(task.app, [step.rework])
    return step.next


def register(app: Celery, *, time_limit: float, execute_time_limit: float | None = None) -> None:
    """Define helmq's tasks on `app`. Execute may run longer (a Claude session's max_minutes
    and pauses) than classify and review."""
    stage_opts = {"bind": True, "acks_late": True, "time_limit": time_limit,
                  "soft_time_limit": time_limit - 30}
    longest = max(time_limit, execute_time_limit or 0)
    execute_opts = {**stage_opts, "time_limit": longest, "soft_time_limit": longest - 30}

    @app.task(name="helmq.classify", **stage_opts)
    def classify(self: Task, handoff: Handoff) -> Handoff | None:
        return _step(self, Stage.CLASSIFY, handoff)

    @app.task(name="helmq.execute", **execute_opts)
    def execute(self: Task, handoff: Handoff) -> Handoff | None:
        return _step(self, Stage.EXECUTE, handoff)

    @app.task(name="helmq.review", **stage_opts)
    def review(self: Task, handoff: Handoff) -> Handoff | None:
        return _step(self, Stage.REVIEW, handoff)

    @app.task(name="helmq.scan", bind=True)
    def scan(self: Task, job: str | None = None) -> list[dict]:
        rt = runtime.current()
        return [s.as_dict() for s in scan_jobs(rt.repo, rt.jobs, only=job,
                                                cache_dir=rt.settings.scan_cache_dir)]

    @app.task(name="helmq.dispatch", bind=True)
    def dispatch(self: Task) -> int:
        rt = runtime.current()
        tick = dispatch_tick(rt.repo, rt.jobs, rt.settings, repos=rt.only_repos)
        return _publish(self.app, tick.dispatched)

    @app.task(name="helmq.reconcile", bind=True)
    def reconcile(self: Task) -> int:
        rt = runtime.current()
        return _publish(self.app, reconcile_leases(rt.repo, rt.settings, rt.ctx) or [])
