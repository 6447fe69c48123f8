"""Throughput of helmq's classify → execute → review pipeline against a bare Celery 3-task chain.

    python benchmarks/pipeline.py --items 300 --concurrency 2 [--rounds 3] [--json]

What it does, on the local Postgres and Redis (`--pg`, `--redis`, `--redis-db` to change):

* creates a fresh database `helmq_bench_<random>`, migrates it, and flushes one Redis database
  (default 13) used as the broker;
* starts ONE real `celery -A benchmarks.bare_tasks worker` (three no-op tasks, one INCRs a Redis
  counter at the end of each chain) and ONE real `celery -A tasks worker -Q control,llm,script`,
  both prefork with the same `-c`;
* warms both up, then alternates, `--rounds` times: N bare chains published → time until the
  last chain's final task ran; N bare chains with one durable Postgres write per task (the "db
  baseline", below) → likewise; N pending `noop check` items dispatched with `dispatch_tick` and
  published with `tasks.chains.publish` → time until every item is `done`;
* prints the median chains/s, items/s and their ratios (goal: helmq/bare ≥ 0.8).

The db baseline (skip it with `--no-db-baseline`) runs `bare.db_first/db_second/db_third` on the
bare worker: each task does one autocommit `UPDATE bench_chain SET step = step + 1, updated_at =
now() WHERE id = %s` in the benchmark database (one psycopg connection per pool process, URL in
$BENCH_DB_URL); the table gets one row per chain before each round and every row must end at
step 3. helmq/db-baseline says how far helmq is from a pipeline that only pays for committing one
write per stage; db-baseline/bare is the price of those three commits alone.

Wall time runs from just before the first publish to the finish time the last task recorded
(the bare chain's ZADD, helmq's `last_completed`); completion is detected by polling.
Workers, the database and the Redis database are cleaned up on success, error, Ctrl-C or SIGTERM.

`--profile DIR` runs both workers under cProfile (main process and every pool child; CPU time,
or wall time with BENCH_PROFILE_CLOCK=wall) and prints where the time goes; the figures of a
profiled run are slower and only good for proportions. The `bare` profile covers both bare
chains (the db baseline runs on the same worker).

CPU time per chain/item is reported beside the rates (from /proc and Redis INFO): unlike wall
time it barely changes when other processes share the machine.
`--inprocess` also times `run_stage` for the three stages in this process, without Celery, to
separate the database/stage cost from the broker cost. `--pg-set synchronous_commit=off` tries a
database setting. To measure a change to helmq without touching the checkout, copy helmq/, tasks/
and beat_schedule.py elsewhere and run with PYTHONPATH pointing there: the benchmark process and
the helmq worker both use that copy (`helmq_source` in --json says which was used).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # appended, so a PYTHONPATH pointing at another helmq checkout still wins for helmq/tasks
    sys.path.append(str(ROOT))

SHIM_FLAG = "--celery-worker-shim"
PROFILE_ENV = "BENCH_PROFILE_DIR"
JOB = "bench"
SETTLED_STATUSES = {"done", "rejected", "failed", "waiting", "gone", "needs_work", "pending"}


class BenchError(RuntimeError):
    """The benchmark could not produce a trustworthy figure."""


# --- CPU accounting (Linux /proc; empty elsewhere) ------------------------------------------

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process, or None when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    """CPU seconds per pid, for the pids that are still there."""
    return {p: c for p in pids if (c := _proc_cpu(p)) is not None}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots (a pid new in `after` counts from zero)."""
    return sum(c - before.get(p, 0.0) for p, c in after.items())


class CpuMeter:
    """CPU seconds of the worker tree, the database backends, Redis and this process."""

    def __init__(self, worker: Worker, redis_client: Any, pg_pids: Callable[[], list[int]]):
        self.worker, self.redis, self.pg_pids = worker, redis_client, pg_pids

    def _redis_cpu(self) -> float:
        info = self.redis.info("cpu")
        return float(info.get("used_cpu_user", 0)) + float(info.get("used_cpu_sys", 0))

    def snapshot(self) -> dict[str, Any]:
        return {"worker": cpu_snapshot(_descendants(self.worker.proc.pid)),
                "postgres": cpu_snapshot(self.pg_pids()),
                "redis": self._redis_cpu(),
                "bench": time.process_time()}

    def since(self, before: dict[str, Any], n: int) -> dict[str, float]:
        """CPU milliseconds per item (or chain) since `before`."""
        after = self.snapshot()
        main = self.worker.proc.pid
        pool_before = {p: c for p, c in before["worker"].items() if p != main}
        pool_after = {p: c for p, c in after["worker"].items() if p != main}
        return {
            "worker_main": 1000 * (after["worker"].get(main, 0.0)
                                   - before["worker"].get(main, 0.0)) / n,
            "worker_pool": 1000 * cpu_delta(pool_before, pool_after) / n,
            "postgres": 1000 * cpu_delta(before["postgres"], after["postgres"]) / n,
            "redis": 1000 * (after["redis"] - before["redis"]) / n,
            "bench": 1000 * (after["bench"] - before["bench"]) / n,
        }


# --- the profiling worker shim ---------------------------------------------------------------


def _worker_shim(argv: list[str]) -> None:
    """Run `celery <argv>` with cProfile on the main process and on every pool child.

    Activated by $BENCH_PROFILE_DIR; each process writes `<tag>-<main|child>-<pid>.prof` there.
    """
    import cProfile

    from celery import signals

    # CPU time by default: on a shared machine, wall time mostly measures the neighbours
    clock = time.perf_counter if os.environ.get("BENCH_PROFILE_CLOCK") == "wall" else (
        time.process_time)

    out = Path(os.environ[PROFILE_ENV])
    tag = os.environ.get("BENCH_PROFILE_TAG", "worker")
    child: dict[str, cProfile.Profile] = {}

    def start_child(**_kw: Any) -> None:
        prof = cProfile.Profile(clock)
        child["p"] = prof
        prof.enable()

    def stop_child(**_kw: Any) -> None:
        prof = child.pop("p", None)
        if prof is not None:
            prof.disable()
            prof.dump_stats(out / f"{tag}-child-{os.getpid()}.prof")

    signals.worker_process_init.connect(start_child, weak=False)
    signals.worker_process_shutdown.connect(stop_child, weak=False)
    main = cProfile.Profile(clock)
    main.enable()
    try:
        from celery.__main__ import main as celery_main

        sys.argv = ["celery", *argv]
        celery_main()
    finally:
        main.disable()
        main.dump_stats(out / f"{tag}-main-{os.getpid()}.prof")


# --- processes ---------------------------------------------------------------------------------


class Worker:
    """One real `celery worker` process in its own session (so it can be stopped as a group)."""

    def __init__(self, label: str, app_name: str, queues: str, concurrency: int,
                 env: dict[str, str], cwd: Path, log: Path, loglevel: str,
                 profile_dir: Path | None) -> None:
        self.label = label
        self.log = log
        self.hostname = f"{label}-{uuid.uuid4().hex[:6]}@localhost"
        args = ["-A", app_name, "worker", "-Q", queues, "-c", str(concurrency), "-P", "prefork",
                "-n", self.hostname, "-l", loglevel, "--without-mingle", "--without-gossip"]
        env = dict(env)
        if profile_dir is not None:
            env[PROFILE_ENV] = str(profile_dir)
            env["BENCH_PROFILE_TAG"] = label
            cmd = [sys.executable, str(Path(__file__).resolve()), SHIM_FLAG, *args]
        else:
            cmd = [sys.executable, "-m", "celery", *args]
        self._fh = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._fh,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, ping: Callable[[str], bool], timeout: float) -> None:
        """Until the worker answers a remote-control ping (works at any log level)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} worker exited:\n{self.tail()}")
            if ping(self.hostname):
                return
            time.sleep(0.2)
        raise BenchError(f"{self.label} worker not ready after {timeout:g}s:\n{self.tail()}")

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise BenchError(f"{self.label} worker died (exit {self.proc.returncode}):\n"
                             f"{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL for whatever is left of its process group."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # pool children outliving their parent keep its process group (its pid)
        for pid in _group_members(self.proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._fh.close()


def _group_members(pgid: int) -> list[int]:
    """Processes whose process group is `pgid` (our worker's session: only its descendants)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = stat.read_text()
            if int(raw[raw.rindex(")") + 2:].split()[2]) == pgid:
                out.append(int(stat.parent.name))
    return out


# --- the environment -------------------------------------------------------------------------


@dataclass
class Env:
    pg_base: str
    redis_url: str
    db_name: str
    tmp: Path
    loglevel: str
    profile_dir: Path | None
    workers: list[Worker] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"{self.pg_base}/{self.db_name}"

    def helmq_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HELMQ_", "ANTHROPIC_", "BENCH_"))}
        src = helmq_source_root()
        env.update(
            HELMQ_DATABASE_URL=self.database_url,
            HELMQ_BROKER_URL=self.redis_url,
            HELMQ_STATE_DIR=str(self.tmp / "state"),
            HELMQ_CONFIG=str(self.tmp / "jobs.yaml"),
            HELMQ_LAST_ACTIVE=str(self.tmp / "last_active.json"),
            PYTHONPATH=os.pathsep.join(dict.fromkeys([str(src), str(ROOT)])),
        )
        return env

    def bare_env(self) -> dict[str, str]:
        from benchmarks import bare_tasks

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HELMQ_", "ANTHROPIC_", "BENCH_"))}
        env.update({"BENCH_BROKER_URL": self.redis_url, "PYTHONPATH": str(ROOT),
                    bare_tasks.DB_URL_ENV: libpq_url(self.database_url)})
        return env


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) as the `postgresql://…` psycopg.connect takes."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def helmq_source_root() -> Path:
    """The checkout helmq is imported from (a PYTHONPATH'd scratch copy wins over the install)."""
    import helmq

    return Path(helmq.__file__).resolve().parents[1]


def admin_engine(pg_base: str):
    from sqlalchemy import create_engine

    return create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def bench_database(pg_base: str, settings: list[str]) -> Iterator[str]:
    """A fresh, migrated database (with `settings` as its defaults); dropped on the way out."""
    from sqlalchemy import text

    from helmq.store.engine import make_engine, upgrade

    name = f"helmq_bench_{secrets.token_hex(6)}"
    admin = admin_engine(pg_base)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            with admin.connect() as conn:
                for setting in settings:  # validated by parse_args
                    key, _, value = setting.partition("=")
                    conn.execute(text(f'ALTER DATABASE "{name}" SET {key} = \'{value}\''))
            engine = make_engine(f"{pg_base}/{name}")
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            yield name
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def redis_db(url: str) -> Iterator[Any]:
    """The broker's Redis database, emptied before and after."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.flushdb()
        client.close()


JOBS_YAML = f"""\
repos: []
jobs:
  {JOB}:
    internal: true
    stages: [classify, execute, review]
    eligibility:
      require_user_idle_minutes: 0
      data_filter: {{}}
"""


# --- the bare baseline -----------------------------------------------------------------------


class ChainTable:
    """`bench_chain` in the benchmark database: one row per db-baseline chain, reset every round."""

    def __init__(self, engine: Any, pg_pids: Callable[[], list[int]]) -> None:
        from sqlalchemy import text

        from benchmarks import bare_tasks

        self.engine, self.pg_pids = engine, pg_pids
        with self.engine.begin() as conn:
            conn.execute(text(bare_tasks.TABLE_DDL))

    def reset(self, n: int) -> None:
        """Rows 0..n-1 at step 0 (the chain of item i updates row i)."""
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE bench_chain"))
            conn.execute(text("INSERT INTO bench_chain (id, step, updated_at) "
                              "SELECT g, 0, now() FROM generate_series(0, :last) AS g"),
                         {"last": n - 1})

    def check(self, n: int) -> None:
        """Every row was updated by exactly the three tasks of its chain."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows, at3 = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE step = 3) FROM bench_chain")).one()
        if (rows, at3) != (n, n):
            raise BenchError(f"db baseline: {at3} of {rows} bench_chain rows at step 3, "
                             f"expected all {n}")


class Bare:
    """Publishes bare 3-task chains (with a ChainTable: the db_* variant) and waits for them."""

    def __init__(self, redis_url: str, client: Any) -> None:
        from benchmarks import bare_tasks

        self.mod = bare_tasks
        self.app = bare_tasks.app
        self.app.conf.broker_url = redis_url
        self.redis = client

    def ping(self, hostname: str) -> bool:
        return bool(self.app.control.ping(destination=[hostname], timeout=0.5))

    def run(self, n: int, timeout: float, worker: Worker, tag: str,
            table: ChainTable | None = None) -> dict[str, float]:
        from celery import chain

        m = self.mod
        name = "db baseline" if table else "bare"
        tasks = (m.db_first, m.db_second, m.db_third) if table else (m.first, m.second, m.third)
        if table:
            table.reset(n)
        self.redis.delete(m.DONE_KEY, m.LAST_KEY)
        meter = CpuMeter(worker, self.redis, table.pg_pids if table else list)
        cpu0 = meter.snapshot()
        t0 = time.time()
        with self.app.producer_or_acquire() as producer:
            for i in range(n):
                handoff = {"item": i, "attempt": 1, "tier": None, "tag": tag}
                chain(tasks[0].s(handoff), tasks[1].s(), tasks[2].s(),
                      app=self.app).apply_async(producer=producer)
        published = time.time()
        deadline = time.monotonic() + timeout
        while int(self.redis.get(m.DONE_KEY) or 0) < n:
            if time.monotonic() > deadline:
                done = int(self.redis.get(m.DONE_KEY) or 0)
                raise BenchError(f"{name}: only {done}/{n} chains finished within {timeout:g}s")
            worker.alive()
            time.sleep(0.02)
        done = int(self.redis.get(m.DONE_KEY) or 0)
        if done != n:
            raise BenchError(f"{name}: {done} chains finished, expected {n}")
        last = float(self.redis.zscore(m.LAST_KEY, "last"))
        cpu_ms = meter.since(cpu0, n)
        if table:
            table.check(n)
        return {"seconds": last - t0, "publish_seconds": published - t0, "cpu_ms": cpu_ms}


# --- helmq -------------------------------------------------------------------------------------


class Helmq:
    """Inserts pending items, dispatches and publishes them, waits until all are done."""

    def __init__(self, env: Env, redis_client: Any) -> None:
        from helmq.config.settings import Settings
        from helmq.runtime import Runtime
        from tasks.app import make_celery

        # Every measured item goes in flight at once, as the bare chains do.
        self.settings = replace(Settings.from_env(env.helmq_env()), max_in_flight=10**9)
        self.rt = Runtime(self.settings)
        self.engine = self.rt.engine
        self.repo = self.rt.repo
        self.jobs = self.rt.jobs
        self.app = make_celery(self.rt)
        self.redis = redis_client
        self.round = 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.app.close()
        self.engine.dispose()

    def ping(self, hostname: str) -> bool:
        return bool(self.app.control.ping(destination=[hostname], timeout=0.5))

    def reset(self) -> None:
        """Empty the tables so every round starts from the same state."""
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE work_items, item_events, stage_runs"))

    def insert(self, n: int) -> None:
        self.round += 1
        for i in range(n):
            key = f"bench-{self.round}-{i}"
            got = self.repo.import_record(JOB, {
                "item_key": key,
                "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
                "status": "pending",
                "data": {"title": f"noop check {i}", "check": "noop", "source": "bench"},
            })
            if got != "new":
                raise BenchError(f"item {key} was not inserted ({got})")

    def run(self, n: int, timeout: float, worker: Worker) -> dict[str, float]:
        from sqlalchemy import func, select

        from helmq.control.dispatch import dispatch_tick
        from helmq.store.schema import work_items
        from tasks.chains import publish

        self.reset()
        self.insert(n)
        d0 = time.perf_counter()
        tick = dispatch_tick(self.repo, self.jobs, self.settings, ignore_idle=True, limit=n)
        dispatch_seconds = time.perf_counter() - d0
        if len(tick.dispatched) != n:
            raise BenchError(f"helmq: dispatch_tick queued {len(tick.dispatched)} of {n} items "
                             f"(skipped: {tick.skipped})")
        meter = CpuMeter(worker, self.redis, self.backend_pids)
        cpu0 = meter.snapshot()
        t0 = time.time()
        sent = publish(self.app, tick.dispatched)
        published = time.time()
        if sent != n:
            raise BenchError(f"helmq: published {sent} chains, expected {n}")
        deadline = time.monotonic() + timeout
        while True:
            counts = self.repo.count_by_status()
            if counts.get("done", 0) >= n:
                break
            settled = sum(v for k, v in counts.items() if k in SETTLED_STATUSES)
            if settled >= n:
                raise BenchError(f"helmq: items settled without all being done: {counts}")
            if time.monotonic() > deadline:
                raise BenchError(f"helmq: not all {n} items done within {timeout:g}s: {counts}")
            worker.alive()
            time.sleep(0.05)
        counts = self.repo.count_by_status()
        if counts != {"done": n}:
            raise BenchError(f"helmq: expected {n} items done, got {counts}")
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(work_items.c.last_completed))).scalar_one()
        return {"seconds": last.timestamp() - t0, "publish_seconds": published - t0,
                "dispatch_seconds": dispatch_seconds, "cpu_ms": meter.since(cpu0, n)}

    def backend_pids(self) -> list[int]:
        """The Postgres server processes connected to the benchmark database."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars())

    def inprocess(self, n: int) -> dict[str, Any]:
        """run_stage for classify, execute and review in this process: no broker, no Celery.

        Wall and CPU milliseconds per item, for the two repository calls and the rest.
        """
        from helmq.control.dispatch import dispatch_tick
        from helmq.domain.model import Stage
        from helmq.runtime import stage_context
        from helmq.stages.runner import run_stage

        self.reset()
        self.insert(n)
        tick = dispatch_tick(self.repo, self.jobs, self.settings, ignore_idle=True, limit=n)
        ctx = stage_context(self.settings)
        repo = _TimedRepo(self.repo)
        stages = (Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW)
        pg0 = cpu_snapshot(self.backend_pids())
        w0, c0 = time.perf_counter(), time.process_time()
        for d in tick.dispatched:
            handoff = d.handoff
            for stage in stages:
                step = run_stage(repo, self.settings, ctx, stage, handoff,  # type: ignore[arg-type]
                                 task_id=str(uuid.uuid4()), worker="bench@localhost")
                if step.next is None:
                    break
                handoff = step.next
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        pg = cpu_delta(pg0, cpu_snapshot(self.backend_pids()))
        counts = self.repo.count_by_status()
        if counts != {"done": n}:
            raise BenchError(f"in-process: expected {n} items done, got {counts}")
        rest = {"wall": wall - sum(w for w, _ in repo.t.values()),
                "cpu": cpu - sum(c for _, c in repo.t.values())}
        per = {name: {"wall": 1000 * w / n, "cpu": 1000 * c / n}
               for name, (w, c) in repo.t.items()}
        per["stage functions and the rest"] = {k: 1000 * v / n for k, v in rest.items()}
        return {"items_per_s": n / wall, "ms_per_item": per,
                "wall_ms_per_item": 1000 * wall / n, "cpu_ms_per_item": 1000 * cpu / n,
                "postgres_cpu_ms_per_item": 1000 * pg / n}


class _TimedRepo:
    """The repository with claim_stage/finish_stage timed (everything else passed through)."""

    def __init__(self, repo: Any) -> None:
        self._repo = repo
        self.t: dict[str, tuple[float, float]] = {"claim_stage": (0.0, 0.0),
                                                  "finish_stage": (0.0, 0.0)}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def _timed(self, name: str, *a: Any, **kw: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        try:
            return getattr(self._repo, name)(*a, **kw)
        finally:
            tw, tc = self.t[name]
            self.t[name] = (tw + time.perf_counter() - w, tc + time.process_time() - c)

    def claim_stage(self, *a: Any, **kw: Any) -> Any:
        return self._timed("claim_stage", *a, **kw)

    def finish_stage(self, *a: Any, **kw: Any) -> Any:
        return self._timed("finish_stage", *a, **kw)


# --- reporting ---------------------------------------------------------------------------------


def versions(redis_client: Any, engine: Any) -> dict[str, str]:
    import celery
    import kombu
    import psycopg
    import redis
    import sqlalchemy
    from sqlalchemy import text

    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
    return {
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "redis_py": redis.__version__,
        "redis_server": str(redis_client.info("server").get("redis_version")),
        "postgres": str(pg),
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
        "cpus": str(os.cpu_count()),
    }


def profile_summary(profile_dir: Path, top: int) -> str:
    """Top functions of each worker's children and main process, by own and cumulative time."""
    out = io.StringIO()
    for label in ("bare", "helmq"):
        for kind in ("child", "main"):
            files = sorted(profile_dir.glob(f"{label}-{kind}-*.prof"))
            if not files:
                out.write(f"\n=== {label} {kind}: no profile written\n")
                continue
            stats = pstats.Stats(*map(str, files), stream=out)
            stats.strip_dirs()
            out.write(f"\n=== {label} {kind} ({len(files)} process(es)): by cumulative time\n")
            stats.sort_stats("cumulative").print_stats(top)
            out.write(f"\n=== {label} {kind}: by own time\n")
            stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def _median_cpu(rounds: list[dict[str, Any]]) -> dict[str, float]:
    keys = rounds[0]["cpu_ms"]
    return {k: statistics.median(r["cpu_ms"][k] for r in rounds) for k in keys}


def _cpu_line(name: str, cpu: dict[str, float], cpus: int) -> str:
    total = sum(cpu.values())
    parts = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
    return (f"{name}: {total:.2f} ms ({parts}); all {cpus} cpu(s) busy would give "
            f"{cpus * 1000 / total:.0f}/s")


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def render(result: dict[str, Any]) -> str:
    v = result["versions"]
    lines = [
        f"N={result['items']} items/chains per round, concurrency={result['concurrency']}, "
        f"rounds={result['rounds']}, warm-up={result['warmup']}, "
        f"worker log level={result['loglevel']}"
        + (" (PROFILED: figures slowed by cProfile)" if result["profiled"] else ""),
        (f"celery {v['celery']} (kombu {v['kombu']}), redis {v['redis_server']} "
         f"(redis-py {v['redis_py']}), postgres {v['postgres']} (sqlalchemy {v['sqlalchemy']}, "
         f"psycopg {v['psycopg']}), python {v['python']}, {v['cpus']} cpu(s)"),
        (f"load average (1/5/15 min) at start {_load(result['load_average']['start'])}, "
         f"at end {_load(result['load_average']['end'])} (other processes on this machine skew "
         "the figures)"),
        *([f"database settings: {', '.join(result['pg_settings'])}"]
          if result["pg_settings"] else []),
        "",
    ]
    db = bool(result["bare_db"])
    lines.append(
        f"{'round':>5}  {'bare chains/s':>13}  "
        + (f"{'db chains/s':>11}  " if db else "")
        + f"{'helmq items/s':>13}  {'helmq/bare':>10}  "
        + (f"{'helmq/db':>8}  " if db else "")
        + f"{'bare s':>7}  " + (f"{'db s':>7}  " if db else "") + f"{'helmq s':>7}  "
        + f"{'bare publish s':>14}  " + (f"{'db publish s':>12}  " if db else "")
        + f"{'helmq publish s':>15}  {'dispatch_tick s':>15}")
    rows = zip(result["bare"], result["bare_db"] or [None] * len(result["bare"]),
               result["helmq"], strict=True)
    for i, (b, d, h) in enumerate(rows, 1):
        lines.append(
            f"{i:>5}  {b['rate']:>13.1f}  "
            + (f"{d['rate']:>11.1f}  " if d else "")
            + f"{h['rate']:>13.1f}  {h['rate'] / b['rate']:>10.2f}  "
            + (f"{h['rate'] / d['rate']:>8.2f}  " if d else "")
            + f"{b['seconds']:>7.2f}  " + (f"{d['seconds']:>7.2f}  " if d else "")
            + f"{h['seconds']:>7.2f}  {b['publish_seconds']:>14.3f}  "
            + (f"{d['publish_seconds']:>12.3f}  " if d else "")
            + f"{h['publish_seconds']:>15.3f}  {h['dispatch_seconds']:>15.3f}"
        )
    m = result["median"]
    cpus = int(v["cpus"])
    verdict = "meets" if m["ratio"] >= result["goal"] else "BELOW"
    lines += [
        "",
        (f"median bare Celery            : {m['bare_chains_per_s']:.1f} chains/s "
         f"({3 * m['bare_chains_per_s']:.0f} tasks/s)"),
        *([(f"median bare + 1 PG write/task : {m['bare_db_chains_per_s']:.1f} chains/s "
            f"({3 * m['bare_db_chains_per_s']:.0f} tasks/s)")] if db else []),
        (f"median helmq                  : {m['helmq_items_per_s']:.1f} items/s "
         f"({3 * m['helmq_items_per_s']:.0f} stage tasks/s)"),
        (f"ratio helmq/bare              : {m['ratio']:.2f} "
         f"({verdict} the goal of {result['goal']:.2f})"),
        *([f"ratio helmq/db-baseline       : {m['ratio_helmq_db']:.2f}",
           f"ratio db-baseline/bare        : {m['ratio_db_bare']:.2f}"] if db else []),
        "",
        "median CPU time (process CPU, robust to a busy machine; redis = whole server):",
        _cpu_line("  bare, per chain        ", m["bare_cpu_ms_per_chain"], cpus),
        *([_cpu_line("  db-baseline, per chain ", m["bare_db_cpu_ms_per_chain"], cpus)]
          if db else []),
        _cpu_line("  helmq, per item        ", m["helmq_cpu_ms_per_item"], cpus),
    ]
    if result.get("inprocess"):
        ip = result["inprocess"]
        lines += [
            "",
            (f"in-process run_stage x3 (no Celery, one process, serial): "
             f"{ip['items_per_s']:.1f} items/s; per item {ip['wall_ms_per_item']:.2f} ms wall, "
             f"{ip['cpu_ms_per_item']:.2f} ms client CPU, "
             f"{ip['postgres_cpu_ms_per_item']:.2f} ms postgres CPU"),
            *(f"  {k:<30} {v['wall']:6.2f} ms wall  {v['cpu']:6.2f} ms CPU"
              for k, v in ip["ms_per_item"].items()),
        ]
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=300, help="items (and bare chains) per round")
    p.add_argument("--concurrency", type=int, default=2, help="prefork -c of both workers")
    p.add_argument("--rounds", type=int, default=3, help="measurements of each, alternating")
    p.add_argument("--warmup", type=int, default=20, help="items/chains run before measuring")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG",
                                                  "postgresql+psycopg://postgres@127.0.0.1:5432"),
                   help="Postgres server URL without a database name")
    p.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379"),
                   help="Redis server URL without a database number")
    p.add_argument("--redis-db", type=int, default=13, help="Redis database (flushed!)")
    p.add_argument("--loglevel", default="INFO", help="worker log level (both workers)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds one round may take (default: 60 + items/5)")
    p.add_argument("--goal", type=float, default=0.8, help="helmq/bare ratio to meet")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="run the workers under cProfile, write .prof files to DIR, print a summary")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--no-db-baseline", dest="db_baseline", action="store_false",
                   help="skip the bare chain with one durable Postgres write per task")
    p.add_argument("--inprocess", action="store_true",
                   help="also time run_stage x3 in this process (no Celery)")
    p.add_argument("--keep-logs", type=Path, metavar="DIR", help="copy the worker logs to DIR")
    p.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                   help="ALTER DATABASE <bench db> SET NAME=VALUE before the workers start, "
                   "e.g. synchronous_commit=off (an experiment; repeatable)")
    args = p.parse_args(argv)
    if args.items < 1 or args.concurrency < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("--items, --concurrency and --rounds must be >= 1, --warmup >= 0")
    for setting in args.pg_set:
        name, _, value = setting.partition("=")
        if not re.fullmatch(r"[a-z_][a-z0-9_.]*", name) or not re.fullmatch(r"[\w.\-]+", value):
            p.error(f"--pg-set expects name=value (a Postgres setting), got {setting!r}")
    return args


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    timeout = args.timeout or 60 + args.items / 5
    redis_url = f"{args.redis.rstrip('/')}/{args.redis_db}"
    profile_dir = args.profile.resolve() if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)
        for old in profile_dir.glob("*.prof"):
            old.unlink()
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.json else (
        lambda msg: print(msg, flush=True))

    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="helmq-bench-"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        client = stack.enter_context(redis_db(redis_url))
        db_name = stack.enter_context(bench_database(args.pg, args.pg_set))
        (tmp / "jobs.yaml").write_text(JOBS_YAML, encoding="utf-8")
        env = Env(args.pg, redis_url, db_name, tmp, args.loglevel, profile_dir)
        helmq = Helmq(env, client)
        stack.callback(helmq.close)
        bare = Bare(redis_url, client)
        table = ChainTable(helmq.engine, helmq.backend_pids) if args.db_baseline else None

        def stop_workers() -> None:
            for w in env.workers:
                w.stop()
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for w in env.workers:
                    shutil.copy(w.log, args.keep_logs / w.log.name)

        stack.callback(stop_workers)
        started = time.monotonic()
        load_start = list(os.getloadavg())
        bare_w = Worker("bare", "benchmarks.bare_tasks", "bare_control,bare_llm,bare_script",
                        args.concurrency, env.bare_env(), ROOT, tmp / "bare-worker.log",
                        args.loglevel, profile_dir)
        env.workers.append(bare_w)
        helmq_w = Worker("helmq", "tasks", "control,llm,script", args.concurrency,
                         env.helmq_env(), helmq_source_root(), tmp / "helmq-worker.log",
                         args.loglevel, profile_dir)
        env.workers.append(helmq_w)
        try:
            bare_w.wait_ready(bare.ping, 60)
            helmq_w.wait_ready(helmq.ping, 60)
            log(f"workers ready in {time.monotonic() - started:.1f}s "
                f"(database {db_name}, broker {redis_url})")
            if args.warmup:
                bare.run(args.warmup, timeout, bare_w, "warmup")
                if table:
                    bare.run(args.warmup, timeout, bare_w, "warmup", table)
                helmq.run(args.warmup, timeout, helmq_w)
                log(f"warm-up of {args.warmup} done")
            results: dict[str, list[dict[str, float]]] = {"bare": [], "bare_db": [], "helmq": []}
            for r in range(args.rounds):
                b = bare.run(args.items, timeout, bare_w, f"round{r}")
                b["rate"] = args.items / b["seconds"]
                results["bare"].append(b)
                if table:
                    d = bare.run(args.items, timeout, bare_w, f"round{r}", table)
                    d["rate"] = args.items / d["seconds"]
                    results["bare_db"].append(d)
                h = helmq.run(args.items, timeout, helmq_w)
                h["rate"] = args.items / h["seconds"]
                results["helmq"].append(h)
                log(f"round {r + 1}/{args.rounds}: bare {b['rate']:.1f} chains/s, "
                    + (f"db baseline {d['rate']:.1f} chains/s, " if table else "")
                    + f"helmq {h['rate']:.1f} items/s")
            inprocess = helmq.inprocess(args.items) if args.inprocess else None
        except BenchError:
            for w in env.workers:
                print(f"--- {w.label} worker log (tail) ---\n{w.tail()}", file=sys.stderr)
            raise
        bare_med = statistics.median(x["rate"] for x in results["bare"])
        helmq_med = statistics.median(x["rate"] for x in results["helmq"])
        db_med = (statistics.median(x["rate"] for x in results["bare_db"])
                  if results["bare_db"] else None)
        result: dict[str, Any] = {
            "items": args.items,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "loglevel": args.loglevel,
            "profiled": profile_dir is not None,
            "goal": args.goal,
            "pg_settings": list(args.pg_set),
            "helmq_source": str(helmq_source_root()),
            "load_average": {"start": load_start, "end": list(os.getloadavg())},
            "versions": versions(client, helmq.engine),
            "db_baseline": bool(table),
            "bare": results["bare"],
            "bare_db": results["bare_db"],
            "helmq": results["helmq"],
            "median": {"bare_chains_per_s": bare_med,
                       "bare_db_chains_per_s": db_med,
                       "helmq_items_per_s": helmq_med,
                       "ratio": helmq_med / bare_med,
                       "ratio_helmq_db": helmq_med / db_med if db_med else None,
                       "ratio_db_bare": db_med / bare_med if db_med else None,
                       "bare_cpu_ms_per_chain": _median_cpu(results["bare"]),
                       "bare_db_cpu_ms_per_chain": (_median_cpu(results["bare_db"])
                                                    if results["bare_db"] else None),
                       "helmq_cpu_ms_per_item": _median_cpu(results["helmq"])},
            "inprocess": inprocess,
        }
    # the workers have stopped (and written their profiles) once the stack has unwound
    if profile_dir:
        result["profile_summary"] = profile_summary(profile_dir, args.profile_top)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; workers stopped and the database dropped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print()
        print(render(result))
        if "profile_summary" in result:
            print(result["profile_summary"])
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == SHIM_FLAG:
        _worker_shim(sys.argv[2:])
    else:
        sys.exit(main())
