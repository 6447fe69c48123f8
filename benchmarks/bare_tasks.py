"""The baseline: a bare Celery app with three no-op tasks chained like classify → execute → review.

`celery -A benchmarks.bare_tasks worker -Q bare_control,bare_llm,bare_script` runs it. The broker
comes from $BENCH_BROKER_URL; the settings that shape throughput match helmq's app (acks_late,
prefetch 1, results ignored, json), the queue layout mirrors helmq's (llm, script, llm).
Task events are left off: sending them is a helmq choice whose cost the comparison shows.

`bare.db_first/db_second/db_third` are the same chain with one durable Postgres write per task:
`UPDATE bench_chain SET step = step + 1, updated_at = now() WHERE id = <payload item>`, in
autocommit, on $BENCH_DB_URL (a libpq URL; the benchmark creates the table and one row per chain).
They share the queues (and so the worker) of the bare chain: the difference between the two is
the price of three committed writes per chain, a floor for any durable pipeline.
"""

from __future__ import annotations

import os
import time

from celery import Celery, signals
from kombu import Queue

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")
DB_URL_ENV = "BENCH_DB_URL"
"""The libpq URL of the benchmark database (for the db_* tasks)."""
TABLE_DDL = "CREATE TABLE bench_chain (id bigint PRIMARY KEY, step int, updated_at timestamptz)"
STEP_SQL = "UPDATE bench_chain SET step = step + 1, updated_at = now() WHERE id = %s"
DONE_KEY = "bench:bare:done"
"""INCR'd by the last task of every chain."""
LAST_KEY = "bench:bare:last"
"""A sorted set holding one member whose score is the latest finish time (ZADD GT)."""

QUEUES = ("bare_control", "bare_llm", "bare_script")
ROUTES = {"bare.first": "bare_llm", "bare.second": "bare_script", "bare.third": "bare_llm",
          "bare.db_first": "bare_llm", "bare.db_second": "bare_script", "bare.db_third": "bare_llm"}

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


_pg: tuple[int, object] | None = None


def _conn():
    """The autocommit psycopg connection of this process (created lazily, never shared across fork).

    A connection inherited from a parent is left alone (not closed: that would end the parent's
    session); a child opens its own.
    """
    global _pg
    if _pg is None or _pg[0] != os.getpid():
        import psycopg

        url = os.environ.get(DB_URL_ENV)
        if not url:
            raise RuntimeError(f"${DB_URL_ENV} is not set")
        _pg = (os.getpid(), psycopg.connect(url, autocommit=True, connect_timeout=10))
    return _pg[1]


@signals.worker_process_shutdown.connect(weak=False)
def _close_conn(**_kw: object) -> None:
    if _pg is not None and _pg[0] == os.getpid():
        _pg[1].close()


def _step(payload: dict) -> None:
    """The one durable write of a db_* task (one statement, committed on return)."""
    cur = _conn().execute(STEP_SQL, (payload["item"],))
    if cur.rowcount != 1:
        raise RuntimeError(f"bench_chain row {payload['item']!r}: {cur.rowcount} rows updated")


def _finish() -> None:
    """Count one finished chain and record its finish time."""
    pipe = _client().pipeline(transaction=False)
    pipe.incr(DONE_KEY)
    pipe.zadd(LAST_KEY, {"last": time.time()}, gt=True)
    pipe.execute()


@app.task(name="bare.first")
def first(payload: dict) -> dict:
    return payload


@app.task(name="bare.second")
def second(payload: dict) -> dict:
    return payload


@app.task(name="bare.third")
def third(payload: dict) -> None:
    _finish()


@app.task(name="bare.db_first")
def db_first(payload: dict) -> dict:
    _step(payload)
    return payload


@app.task(name="bare.db_second")
def db_second(payload: dict) -> dict:
    _step(payload)
    return payload


@app.task(name="bare.db_third")
def db_third(payload: dict) -> None:
    _step(payload)
    _finish()
