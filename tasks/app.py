"""The Celery app factory. Nothing connects until a worker, beat or publisher needs it."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_init

from beat_schedule import SCHEDULER
from helmq.runtime import Runtime
from tasks.router import route_task, task_queues
from tasks.stage_tasks import register


def make_celery(rt: Runtime) -> Celery:
    """A Celery app for the process's runtime; connects to nothing until used."""
    settings = rt.settings
    time_limit = settings.task_time_limit
    # A Claude session may run max_minutes plus the pauses its policy allows.
    longest = rt.execute_time_limit
    app = Celery("helmq", broker=settings.broker_url)
    transport: dict = {
        # Above the longest hard limit, so a long task is not redelivered while it runs.
        "visibility_timeout": int(longest + 600),
    }
    if settings.embedded:
        transport["polling_interval"] = 0.05
    app.conf.update(
        task_default_queue="control",
        task_queues=task_queues(),
        task_routes=(route_task,),
        task_acks_late=True,
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # The 6.0 default would abort long agent sessions on a broker blip.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Task events cost ~a third of a worker's main-process CPU (benchmarks/pipeline.py);
        # workers that Flower watches turn them on with -E (`helmq worker` does).
        worker_send_task_events=False,
        task_send_sent_event=False,
        timezone="UTC",
        enable_utc=True,
        beat_scheduler=SCHEDULER,
    )
    register(app, time_limit=time_limit, execute_time_limit=longest)

    @worker_init.connect(weak=False)
    def _parse_jobs_before_fork(sender: Any = None, **_kw: Any) -> None:
        # The pool's children inherit the parsed jobs (runtime.current keeps them across a
        # fork), so a worker reads jobs.yaml once, not once per child.
        if getattr(sender, "app", None) is app:
            rt.jobs  # noqa: B018

    return app
