"""Server time of the web UI's pages over 100,000 items in Postgres.

    python benchmarks/ui.py [--items 100000] [--requests 200] [--pg URL] [--keep NAME] [--json]

What it does:

* creates a fresh database on `--pg` (default postgresql+psycopg://postgres@127.0.0.1:5432),
  migrates it, and seeds `--items` work items over four jobs (two internal, two external) in
  every status and tier, with three events each and a stage run for every other item, all in
  SQL (generate_series), then ANALYZEs;
* starts `helmq.web.serve` in a subprocess (uvicorn, one process, as `helmq ui` runs it);
* requests each page `--requests` times, one at a time, after 20 warm-up requests: the list's
  first page (Internal tab), a filtered list page (status + tier), the item page (a random
  item each time), `/api/items` (100 items), and, for information, a search, a deep page, a
  priority-sorted page and /metrics;
* prints p50/p95 of the server time (the app's `Server-Timing` header: routing, queries,
  rendering) and of the client's round trip, and the goal: p95 server time <= 100 ms for the
  four measured pages. Exit 0 when the goal is met, 2 when missed, 1 when the run failed.

The database is dropped at the end unless `--keep NAME` names it (then it is reused when it
exists, which skips seeding).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

GOAL_MS = 100.0
WARMUP = 20
JOBS_YAML = """\
jobs:
  codebase_maintenance: { internal: true, emoji: "🔧", discovery: { strategy: autodo_scan } }
  doc_health: { internal: true, emoji: "📚", discovery: { strategy: autodo_scan } }
  issue_triage: { emoji: "📬", discovery: { strategy: autodo_scan } }
  dependency_updates: { emoji: "📦", discovery: { strategy: autodo_scan } }
"""

# Weights roughly as a long-running install looks: most items settled, few in flight.
SEED_SQL = """
WITH n AS (SELECT i FROM generate_series(1, :items) AS i)
INSERT INTO work_items (job, item_key, fingerprint, status, stage, tier, priority, source_file,
    line, data, attempt, redispatches, review_rounds, failure_class, waiting_reason, cost_usd,
    session_id, branch, report_path, created_at, updated_at)
SELECT
  (ARRAY['codebase_maintenance','codebase_maintenance','doc_health','issue_triage',
         'dependency_updates'])[1 + i % 5],
  'bench-' || i, md5(i::text),
  (ARRAY['pending','pending','pending','pending','done','done','done','gone','gone','failed',
         'waiting','needs_work','rejected','queued','executing','pending','done','done','done',
         'pending'])[1 + (i * 7) % 20],
  NULL,
  (ARRAY['script','llm_call','vario','claude_session', NULL])[1 + (i * 3) % 5],
  (i * 11) % 4,
  'src/module_' || (i % 997) || '.py', 1 + i % 400,
  jsonb_build_object(
    'title', (ARRAY['Fix broken link','Make flaky test deterministic','Add type hints',
                    'Replace deprecated call','Fix typo','Write missing docstring',
                    'Remove dead code','Update pinned dependency'])[1 + i % 8]
             || ' in module_' || (i % 997) || ' (#' || i || ')',
    'source', 'todo_md', 'repo', '/src/repo_' || (i % 13),
    'review', CASE WHEN i % 3 = 0 THEN jsonb_build_object('verdict', 'accept') END),
  1, 0, 0,
  CASE WHEN (i * 7) % 20 = 9 THEN 'check_failed' END,
  CASE WHEN (i * 7) % 20 = 10 THEN 'no_credentials' END,
  CASE WHEN i % 2 = 0 THEN ((i % 50) / 1000.0) ELSE 0 END,
  CASE WHEN i % 4 = 0 THEN 'sess-' || i END,
  CASE WHEN i % 4 = 0 THEN 'helmq/bench-' || i END,
  CASE WHEN i % 4 = 0 THEN '/nonexistent/reports/bench-' || i || '.md' END,
  now() - ((i::bigint * 7919) % 7776000) * interval '1 second' - interval '1 day',
  now() - ((i::bigint * 104729) % 7776000) * interval '1 second'
FROM n;
INSERT INTO item_events (item_id, at, kind, from_status, to_status, stage, attempt, message)
SELECT w.id, w.created_at + k * interval '1 minute',
       (ARRAY['discovered','transition','transition'])[k],
       (ARRAY[NULL,'pending','queued'])[k], (ARRAY['pending','queued',w.status])[k],
       (ARRAY[NULL,'classify','execute'])[k], k - 1, 'seeded event ' || k
FROM work_items w CROSS JOIN generate_series(1, 3) AS k;
INSERT INTO stage_runs (item_id, stage, attempt, tier, task_id, worker, started_at, finished_at,
    outcome, cost_usd, error_class, error)
SELECT w.id, 'execute', 1, w.tier, md5('task' || w.id), 'bench@host',
       now() - (w.id % 80000) * interval '1 second',
       now() - (w.id % 80000) * interval '1 second' + (w.id % 300) * interval '1 second',
       CASE WHEN w.status = 'failed' THEN 'failed' ELSE 'ok' END, w.cost_usd,
       CASE WHEN w.status = 'failed' THEN 'check_failed' END,
       CASE WHEN w.status = 'failed' THEN 'ruff still reports 2 problems' END
FROM work_items w WHERE w.id % 2 = 0;
"""


class BenchError(Exception):
    """The benchmark could not run."""


def admin(pg: str):
    from sqlalchemy import create_engine

    return create_engine(f"{pg}/postgres", isolation_level="AUTOCOMMIT")


def prepare(pg: str, name: str, items: int, reuse: bool) -> tuple[str, float, int]:
    """A migrated, seeded database; returns its URL, the seconds seeding took, the first id."""
    from sqlalchemy import text

    from helmq.store.engine import make_engine, upgrade

    with admin(pg).connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).scalar()
        if exists and not reuse:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or not reuse:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{pg}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    start = time.monotonic()
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM work_items")).scalar_one()
        if have == 0:
            print(f"seeding {items:,} items …", file=sys.stderr)
            for statement in SEED_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"items": items})
        elif have != items:
            raise BenchError(f"database {name} holds {have} items, not {items}; drop it")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
        first = conn.execute(text("SELECT min(id) FROM work_items")).scalar_one()
    engine.dispose()
    return url, time.monotonic() - start, first


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, work: Path) -> tuple[subprocess.Popen, str]:
    """`helmq.web.serve` in its own process, as `helmq ui` runs it."""
    config = work / "jobs.yaml"
    config.write_text(JOBS_YAML, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELMQ_", "ANTHROPIC_"))}
    env.update(HELMQ_DATABASE_URL=url, HELMQ_CONFIG=str(config), HELMQ_STATE_DIR=str(work),
               PYTHONPATH=str(ROOT))
    code = ("import sys; from helmq.config.settings import Settings; from helmq.web import serve; "
            f"sys.exit(serve(Settings.from_env(), '127.0.0.1', {port}))")
    log = open(work / "ui.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the UI exited: {(work / 'ui.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise BenchError("the UI did not answer /healthz within 30 s")


def measure(client, base: str, paths, n: int) -> dict[str, float]:
    """p50/p95 of server and client time (ms) over n requests of `paths()` (after warm-up)."""
    server, client_ms = [], []
    for i in range(WARMUP + n):
        path = paths()
        start = time.perf_counter()
        response = client.get(base + path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET {path}: {response.status_code} {response.text[:300]}")
        if i >= WARMUP:
            timing = response.headers["server-timing"]
            server.append(float(timing.split("dur=")[1]))
            client_ms.append(elapsed)

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    return {"server_p50": pct(server, 50), "server_p95": pct(server, 95),
            "client_p50": pct(client_ms, 50), "client_p95": pct(client_ms, 95)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    name = args.keep or f"helmq_bench_ui_{os.getpid()}"
    url, seed_s, first = prepare(args.pg, name, args.items, reuse=bool(args.keep))
    rng = random.Random(7)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            proc, base = start_server(url, Path(tmp))
            try:
                with httpx.Client(timeout=30) as client:
                    goal = {
                        "list, first page": lambda: "/?tab=internal",
                        "list, filtered": lambda: "/?tab=internal&status=failed&tier=llm_call",
                        "item page": lambda: f"/items/{first + rng.randrange(args.items)}",
                        "/api/items": lambda: "/api/items",
                    }
                    info = {
                        "list, search": lambda: "/?tab=external&q=deprecated+call+in+module_42",
                        "list, page 100": lambda: "/?tab=internal&page=100",
                        "list, by priority": lambda: "/?tab=external&sort=priority",
                        "/api/items filtered": lambda: "/api/items?internal=true&status=pending",
                        "/metrics": lambda: "/metrics",
                    }
                    results = {k: measure(client, base, p, args.requests)
                               for k, p in goal.items()}
                    extra = {k: measure(client, base, p, max(20, args.requests // 4))
                             for k, p in info.items()}
            finally:
                proc.terminate()
                proc.wait(10)
    finally:
        if not args.keep:
            from sqlalchemy import text

            with admin(args.pg).connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    met = all(r["server_p95"] <= GOAL_MS for r in results.values())
    return {"items": args.items, "requests": args.requests, "seed_seconds": round(seed_s, 1),
            "goal_ms": GOAL_MS, "goal_met": met, "results": results, "info": extra}


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['items']:,} items in Postgres; {result['requests']} requests per page "
             f"(after {WARMUP} warm-up), one at a time",
             f"{'page':<22} {'server p50':>10} {'server p95':>10} {'client p50':>10} "
             f"{'client p95':>10}  (ms)"]
    for title, block in (("", result["results"]), ("for information:", result["info"])):
        if title:
            lines.append(title)
        for name, r in block.items():
            lines.append(f"{name:<22} {r['server_p50']:>10.1f} {r['server_p95']:>10.1f} "
                         f"{r['client_p50']:>10.1f} {r['client_p95']:>10.1f}")
    lines.append(f"goal: server p95 <= {result['goal_ms']:.0f} ms on the first four: "
                 + ("met" if result["goal_met"] else "MISSED"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--pg", default=os.environ.get("BENCH_PG",
                                                  "postgresql+psycopg://postgres@127.0.0.1:5432"))
    p.add_argument("--keep", metavar="NAME", help="keep (and reuse) the database NAME")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["goal_met"] else 2


if __name__ == "__main__":
    sys.exit(main())
