"""The baseline: a bare Celery app with three no-op tasks chained like classify → execute → review.

`celery -A benchmarks.bare_tasks worker -Q bare_control,bare_llm,bare_script` runs it. The broker
comes from $BENCH_BROKER_URL; the settings that shape throughput match helmq's app (acks_late,
prefetch 1, results ignored, json), the queue layout mirrors helmq's (llm, script, llm).
Task events are left off: sending them is a helmq choice whose cost the comparison shows.
"""

from __future__ import annotations

import os
import time

from celery import Celery
from kombu import Queue

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
DONE_KEY = "bench:bare:done"
"""INCR'd by the last task of every chain."""
LAST_KEY = "bench:bare:last"
"""A sorted set holding one member whose score is the latest finish time (ZADD GT)."""

QUEUES = ("bare_control", "bare_llm", "bare_script")
ROUTES = {"bare.first": "bare_llm", "bare.second": "bare_script", "bare.third": "bare_llm"}

app = Celery("bare", broker=BROKER_URL)
app.conf.update(
    task_default_queue="bare_control",
    task_queues=[Queue(q, routing_key=q) for q in QUEUES],
    task_routes={name: {"queue": q, "routing_key": q} for name, q in ROUTES.items()},
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    broker_transport_options={"visibility_timeout": 4200},
    broker_connection_retry_on_startup=True,
    worker_cancel_long_running_tasks_on_connection_loss=False,
)

_redis: tuple[int, object] | None = None


def _client():
    """A Redis client of this process (never shared across fork)."""
    global _redis
    if _redis is None or _redis[0] != os.getpid():
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(BROKER_URL))
    return _redis[1]


@app.task(name="bare.first")
def first(payload: dict) -> dict:
    return payload


@app.task(name="bare.second")
def second(payload: dict) -> dict:
    return payload


@app.task(name="bare.third")
def third(payload: dict) -> None:
    pipe = _client().pipeline(transaction=False)
    pipe.incr(DONE_KEY)
    pipe.zadd(LAST_KEY, {"last": time.time()}, gt=True)
    pipe.execute()
