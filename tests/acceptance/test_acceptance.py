"""Acceptance: the first vertical slice through real `helmq` and `celery` processes.

Postgres + Redis + real worker processes (one for control,llm, one for script), and the
same scenario on the embedded default (SQLite, in-process broker).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from helmq.store.schema import work_items
from tests.conftest import git, helmq_env, make_git_repo, run_helmq, tree_snapshot

pytestmark = pytest.mark.slow

TODO = """# Maintenance
- [ ] Fix broken links in docs
- [ ] Rewrite the parser in Rust !p1
"""
DOCS = {
    "TODO.md": TODO,
    "docs/index.md": "# Docs\n\nStart with [setup](setup.md).\n",
    "docs/guide/setup.md": "# Setup\n",
}
LINK_TITLE = "Fix broken links in docs"


def write_jobs(tmp_path: Path, repo: Path, *, interval: int = 3600) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        f"""repos: [{repo}]
jobs:
  codebase_maintenance:
    internal: true
    discovery: {{strategy: autodo_scan, interval: {interval}}}
    eligibility:
      require_user_idle_minutes: 15
      data_filter: {{risk: [low, null]}}
""",
        encoding="utf-8",
    )
    return path


def items_by_title(env: dict[str, str]) -> dict[str, dict]:
    out = run_helmq(["items", "--json"], env)
    assert out.returncode == 0, out.stderr
    return {i["title"]: i for i in json.loads(out.stdout)}


def assert_link_item_done(env: dict[str, str], repo: Path, before: dict[str, bytes]) -> dict:
    """The link item is done, its fix and tick are on its branch, the user's tree untouched."""
    items = items_by_title(env)
    link = items[LINK_TITLE]
    assert link["status"] == "done", link
    assert link["review"] == "accept"
    assert link["branch"] == f"helmq/{link['item_key']}"
    assert git(repo, "show", f"{link['branch']}:docs/index.md").count("(guide/setup.md)") == 1
    assert "- [x] Fix broken links in docs" in git(repo, "show", f"{link['branch']}:TODO.md")
    # The user's working tree, index and branch are exactly as they were.
    assert tree_snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    shown = json.loads(run_helmq(["show", str(link["id"]), "--json"], env).stdout)
    transitions = [(e["from_status"], e["to_status"]) for e in shown["events"]]
    for step in [("pending", "queued"), ("queued", "classifying"), ("queued", "executing"),
                 ("queued", "reviewing"), ("reviewing", "done")]:
        assert step in transitions, transitions
    assert [r["outcome"] for r in shown["stage_runs"]] == ["ok", "ok", "accepted"]
    assert "guide/setup.md" in shown["diff"]
    assert Path(shown["report_path"]).is_file()
    return shown


def test_pipeline_on_postgres_redis_and_real_workers(tmp_path, pg_url, redis_url, start_worker):
    # Given a repo with a TODO.md and a docs tree whose link target moved
    repo = make_git_repo(tmp_path / "app", DOCS)
    before = tree_snapshot(repo)
    env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                    HELMQ_CONFIG=str(write_jobs(tmp_path, repo)))
    # And two real workers: one for control+llm, one for the script tier
    control = start_worker("control,llm", env)
    script = start_worker("script", env)

    # When run-once dispatches to them and waits
    out = run_helmq(["run-once", "--json"], env)

    # Then the link item is done with its fix on its branch
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout)
    assert result["dispatched"] == 2
    shown = assert_link_item_done(env, repo, before)
    workers = {r["stage"]: r["worker"] for r in shown["stage_runs"]}
    assert workers == {"classify": control.name, "execute": script.name, "review": control.name}
    # And the item no rule places waits for credentials instead of being faked, unclassified
    rust = items_by_title(env)["Rewrite the parser in Rust"]
    assert (rust["status"], rust["tier"], rust["waiting_reason"]) == (
        "waiting", None, "no_credentials")


def test_pipeline_on_embedded_default(tmp_path):
    # Given the same repo and no settings at all but a state dir
    repo = make_git_repo(tmp_path / "app", DOCS)
    before = tree_snapshot(repo)
    env = helmq_env(tmp_path, default_jobs=True)

    # When the README's main command runs against it
    out = run_helmq(["run-once", "--repo", str(repo)], env, cwd=tmp_path)

    # Then the same result, on SQLite with an in-process broker
    assert out.returncode == 0, out.stderr + out.stdout
    # the two TODO.md items, and the broken link that the default doc_health job found
    assert "dispatched 3 item(s)" in out.stdout
    # and it ends with what became of them (the weekly doc_health item reads fixed, not pending)
    assert out.stdout.rstrip().endswith(
        "fixed 2 · reported 0 · waiting 1 (no_credentials) · failed 0"), out.stdout
    assert (tmp_path / "state" / "helmq.db").is_file()
    assert_link_item_done(env, repo, before)
    doc = items_by_title(env)["Broken link in docs/index.md: setup.md"]
    assert (doc["job"], doc["status"], doc["recurrence"]) == ("doc_health", "pending", "weekly")
    assert doc["last_completed"] and doc["review"] == "accept"
    # stored as pending for its next week, it reads as fixed until then
    assert doc["outcome"] == "fixed" and doc["next_due"] > doc["last_completed"]


def test_beat_schedules_scan_and_dispatch(tmp_path, pg_url, redis_url, start_worker):
    # Given workers and a beat whose scan and dispatch run every second
    repo = make_git_repo(tmp_path / "app", DOCS)
    before = tree_snapshot(repo)
    env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                    HELMQ_CONFIG=str(write_jobs(tmp_path, repo, interval=1)),
                    HELMQ_DISPATCH_INTERVAL="1", HELMQ_RECONCILE_INTERVAL="5")
    start_worker("control,llm", env)
    start_worker("script", env)
    import subprocess
    import sys

    beat = subprocess.Popen([sys.executable, "-m", "helmq.cli.main", "beat"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tmp_path)
    try:
        # When nobody calls run-once, beat alone discovers and dispatches the work
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            link = items_by_title(env).get(LINK_TITLE)
            if link and link["status"] == "done":
                break
            time.sleep(0.5)
    finally:
        beat.terminate()
        beat.wait(20)
    # Then the item went through the whole chain
    assert_link_item_done(env, repo, before)


def test_user_active_dispatches_nothing(tmp_path):
    # Given a user who was active a minute ago
    repo = make_git_repo(tmp_path / "app", DOCS)
    env = helmq_env(tmp_path)
    assert run_helmq(["touch"], env).returncode == 0

    # When run-once runs without --ignore-idle
    out = run_helmq(["run-once", "--repo", str(repo), "--json"], env)

    # Then items are found but nothing is dispatched
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["dispatched"] == 0
    assert "user active" in result["skipped"]["codebase_maintenance"]
    assert {i["status"] for i in items_by_title(env).values()} == {"pending"}
    assert git(repo, "branch", "--list", "helmq/*") == ""


def test_duplicate_and_stale_messages_change_nothing(tmp_path, pg_url, redis_url, start_worker):
    # Given an item that went through the pipeline on real workers
    repo = make_git_repo(tmp_path / "app", DOCS)
    env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                    HELMQ_CONFIG=str(write_jobs(tmp_path, repo)))
    control = start_worker("control,llm", env)
    script = start_worker("script", env)
    assert run_helmq(["run-once", "--ignore-idle"], env).returncode == 0
    link = items_by_title(env)[LINK_TITLE]
    engine = make_engine(pg_url)
    store = Repository(engine)
    events_before = store.item_events(link["id"])
    runs_before = store.item_stage_runs(link["id"])
    seen = {w: len(w.log.read_text(errors="replace")) for w in (control, script)}

    # When the same messages arrive again (duplicates) and with an older token (stale)
    from celery import Celery

    sender = Celery(broker=redis_url)
    from tasks.router import route_task

    sender.conf.task_routes = (route_task,)
    expected = {}
    for attempt in (link["attempt"], link["attempt"] - 1):
        handoff = {"item": link["id"], "attempt": attempt, "tier": "script"}
        for stage in ("classify", "execute", "review"):
            sender.send_task(f"helmq.{stage}", args=[handoff])
            worker = script if stage == "execute" else control
            expected[(stage, attempt)] = (worker, f"{stage}: item {link['id']} attempt {attempt} "
                                                  "is not queued for it; stale message dropped")

    # Then each one reaches its worker, which says it dropped it (a message still held by a
    # worker, or one that ran a stage, never says so)
    def dropped() -> set:
        logs = {w: w.log.read_text(errors="replace")[seen[w]:] for w in (control, script)}
        return {key for key, (w, line) in expected.items() if line in logs[w]}

    deadline = time.monotonic() + 60
    while dropped() != set(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dropped() == set(expected), (
        f"not dropped: {sorted(set(expected) - dropped())}\n"
        f"control:\n{control.log.read_text(errors='replace')[seen[control]:][-3000:]}\n"
        f"script:\n{script.log.read_text(errors='replace')[seen[script]:][-3000:]}")
    # And no stage ran again: no new events, no new stage runs, same status
    assert store.item_events(link["id"]) == events_before
    assert store.item_stage_runs(link["id"]) == runs_before
    assert store.get_item(link["id"]).status == "done"
    engine.dispose()


def test_reconciler_redispatches_a_lost_message(tmp_path, pg_url, redis_url, start_worker):
    # Given an item dispatched while no script worker runs, whose message is then lost
    repo = make_git_repo(tmp_path / "app", DOCS)
    env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                    HELMQ_CONFIG=str(write_jobs(tmp_path, repo)))
    start_worker("control,llm", env)
    assert run_helmq(["scan"], env).returncode == 0
    engine = make_engine(pg_url)
    store = Repository(engine)
    link_id = items_by_title(env)[LINK_TITLE]["id"]
    # Simulate a classified item whose execute message vanished with a broker restart
    item = store.get_item(link_id)
    with engine.begin() as conn:
        conn.execute(update(work_items).where(work_items.c.id == link_id).values(
            status="queued", stage="execute", tier="script", attempt=7,
            lease_until=item.updated_at,
            data={**item.data, "classify": {"tier": "script", "check": "links"}}))
    start_worker("script", env)

    # When beat's reconcile task runs on the control worker
    from celery import Celery

    sender = Celery(broker=redis_url)
    sender.send_task("helmq.reconcile", queue="control", routing_key="control")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and store.get_item(link_id).status != "done":
        time.sleep(0.3)

    # Then the reconciler re-dispatched it and the chain finished it
    item = store.get_item(link_id)
    assert item.status == "done", store.item_events(link_id)
    assert item.attempt == 8
    assert any("reconciled" in (e["message"] or "") for e in store.item_events(link_id))
    engine.dispose()


def test_doc_health_prototype_on_postgres_redis_and_real_workers(tmp_path, pg_url, redis_url,
                                                                  start_worker):
    # Given a repo whose docs link to a page that moved, and only the doc_health job
    repo = make_git_repo(tmp_path / "site", {
        "README.md": "# Site\n\nSee the [guide](docs/guide.md) and [setup](docs/setup.md).\n",
        "docs/guide.md": "# Guide\n",
        "docs/install/setup.md": "# Setup\n",
    })
    before = tree_snapshot(repo)
    config = tmp_path / "jobs.yaml"
    config.write_text(f"""repos: [{repo}]
jobs:
  doc_health:
    internal: true
    discovery: {{strategy: doc_health, interval: 86400, recurrence: weekly}}
    eligibility: {{require_user_idle_minutes: 15}}
""", encoding="utf-8")
    env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                    HELMQ_CONFIG=str(config))
    control = start_worker("control,llm", env)
    script = start_worker("script", env)

    # When run-once discovers and dispatches to the real workers
    out = run_helmq(["run-once", "--json"], env)
    assert out.returncode == 0, out.stderr + out.stdout

    # Then the broken link was found once, classified script, fixed on its branch, reviewed
    [item] = json.loads(run_helmq(["items", "--json"], env).stdout)
    assert item["title"] == "Broken link in README.md: docs/setup.md"
    assert (item["job"], item["source"], item["tier"]) == ("doc_health", "doc_health", "script")
    assert item["review"] == "accept"
    readme = git(repo, "show", f"{item['branch']}:README.md")
    assert "[setup](docs/install/setup.md)" in readme and "[guide](docs/guide.md)" in readme
    shown = json.loads(run_helmq(["show", str(item["id"]), "--json"], env).stdout)
    moves = [(e["from_status"], e["to_status"]) for e in shown["events"]]
    assert moves == [(None, "pending"), ("pending", "queued"), ("queued", "classifying"),
                     ("classifying", "queued"), ("queued", "executing"),
                     ("executing", "queued"), ("queued", "reviewing"), ("reviewing", "done"),
                     ("done", "pending")]
    assert [r["outcome"] for r in shown["stage_runs"]] == ["ok", "ok", "accepted"]
    assert {r["stage"]: r["worker"] for r in shown["stage_runs"]} == {
        "classify": control.name, "execute": script.name, "review": control.name}
    # And recurrence put it back to pending with last_completed set: it waits a week
    assert (item["status"], item["recurrence"]) == ("pending", "weekly")
    assert item["last_completed"]
    again = json.loads(run_helmq(["run-once", "--json"], env).stdout)
    assert again["dispatched"] == 0
    # And the user's tree is untouched
    assert tree_snapshot(repo) == before and git(repo, "status", "--porcelain") == ""


def test_claude_sessions_run_one_at_a_time_on_a_concurrency_one_worker(
        tmp_path, pg_url, redis_url, start_worker):
    from fake_anthropic import FakeAnthropic, json_reply, slow, text, tool_use

    # Given two items that ask for a Claude session, and a fake Messages API
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Write notes one tier:claude_session\n"
                   "- [ ] Write notes two tier:claude_session\n",
        "app.py": "print('hi')\n",
    })
    before = tree_snapshot(repo)
    config = tmp_path / "jobs.yaml"
    config.write_text(f"""repos: [{repo}]
jobs:
  maint:
    internal: true
    discovery: {{strategy: autodo_scan}}
    eligibility: {{require_user_idle_minutes: 15}}
""", encoding="utf-8")
    with FakeAnthropic(tmp_path / "requests.jsonl") as fake:
        env = helmq_env(tmp_path, HELMQ_DATABASE_URL=pg_url, HELMQ_BROKER_URL=redis_url,
                        HELMQ_CONFIG=str(config), ANTHROPIC_API_KEY="sk-ant-test-e2e",
                        ANTHROPIC_BASE_URL=fake.url, HELMQ_LLM_BACKOFF_BASE="0.01",
                        HELMQ_MODEL_REVIEW="claude-haiku-4-5", HELMQ_CLAUDE_MAX_MINUTES="1")
        scanned = run_helmq(["scan", "--json"], env)
        assert scanned.returncode == 0, scanned.stderr
        keys = {i["title"]: i["item_key"] for i in json.loads(
            run_helmq(["items", "--json"], env).stdout)}
        worktrees = tmp_path / "state" / "worktrees"
        fake.when(contains="You review one change", reply=json_reply(
            {"verdict": "accept", "reasons": ["the notes are there"], "feedback": ""}))
        for n in ("one", "two"):
            # each session writes its notes in its own worktree, slowly enough to overlap
            fake.when(last_user_contains=f"Write notes {n}", tool_result=False,
                      reply=slow(tool_use("Write", {
                          "file_path": str(worktrees / keys[f"Write notes {n}"] / f"{n}.md"),
                          "content": f"notes {n}\n"}), 1.0))
        fake.when(tool_result=True, reply=text("Wrote the notes."))
        control = start_worker("control,llm", env)
        claude = start_worker("claude", env, concurrency=1)

        # When run-once dispatches both to the workers
        out = run_helmq(["run-once", "--json"], env, timeout=300)
        assert out.returncode == 0, out.stderr + out.stdout

    # Then both sessions ran on the claude worker, one after the other
    items = items_by_title(env)
    spans = []
    for n in ("one", "two"):
        item = items[f"Write notes {n}"]
        assert (item["status"], item["tier"], item["review"]) == (
            "done", "claude_session", "accept"), item
        assert git(repo, "show", f"{item['branch']}:{n}.md") == f"notes {n}\n"
        shown = json.loads(run_helmq(["show", str(item["id"]), "--json"], env).stdout)
        session = shown["data"]["claude"]
        assert item["session_id"] == session["session_id"]
        assert Path(session["transcript_path"]).is_file()
        assert {r["stage"]: r["worker"] for r in shown["stage_runs"]}["execute"] == claude.name
        assert control.name in {r["worker"] for r in shown["stage_runs"]}
        spans.append((session["started_at"], session["ended_at"]))
        # the session was reserved against the budget and its real cost committed
        engine = make_engine(pg_url)
        from helmq.store.ledger import Ledger

        charged = [e for e in Ledger(engine).entries(item_id=item["id"])
                   if e["stage"] == "execute"]
        engine.dispose()
        assert len(charged) == 1 and float(charged[0]["cost_usd"]) == pytest.approx(
            session["cost_usd"])
    (start1, end1), (start2, end2) = sorted(spans)
    assert end1 <= start2, spans
    assert tree_snapshot(repo) == before
