"""The `helmq` command as a user runs it: discovery, recurrence, bad input, restart safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from helmq.domain.model import Finding
from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from helmq.store.schema import work_items
from tests.conftest import ROOT, free_port, git, helmq_env, make_git_repo, run_helmq

TODO = """# Tasks
- [ ] Fix broken links in docs
- [ ] Write the changelog entry
"""


def scan(env: dict[str, str], repo: Path) -> dict:
    out = run_helmq(["scan", "--repo", str(repo), "--json"], env)
    assert out.returncode == 0, out.stderr
    [job] = json.loads(out.stdout)
    assert job.pop("seconds") >= 0
    return job


def items(env: dict[str, str], *extra: str) -> list[dict]:
    out = run_helmq(["items", "--json", *extra], env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_every_verb_has_help():
    for verb in ["up", "ui", "run-once", "scan", "items", "show", "worker", "beat", "touch",
                 "migrate-queue", "db", "doctor"]:
        out = run_helmq([verb, "--help"], dict(os.environ))
        assert out.returncode == 0, (verb, out.stderr)
        assert "usage: helmq" in out.stdout
    top = run_helmq(["--help"], dict(os.environ))
    assert "HELMQ_DATABASE_URL" in top.stdout and "HELMQ_BROKER_URL" in top.stdout


def test_items_json_has_the_contract_fields(tmp_path):
    repo = make_git_repo(tmp_path / "app", {"TODO.md": TODO})
    env = helmq_env(tmp_path)
    scan(env, repo)
    [first, _] = items(env)
    for field in ["id", "job", "item_key", "title", "status", "priority", "tier", "source",
                  "source_file", "line", "fingerprint", "recurrence", "last_completed",
                  "review", "failure_class", "cost_usd", "session_id", "branch",
                  "report_path", "created_at", "updated_at"]:
        assert field in first, field
    assert (first["source_file"], first["line"], first["source"]) == ("TODO.md", 2, "todo_md")


def test_rescan_creates_no_duplicates_and_deleted_lines_go(tmp_path):
    # Given a repo scanned once
    repo = make_git_repo(tmp_path / "app", {"TODO.md": TODO})
    env = helmq_env(tmp_path)
    assert scan(env, repo) | {"warnings": []} == {
        "job": "codebase_maintenance", "new": 2, "updated": 0, "unchanged": 0, "gone": 0,
        "done": 0, "warnings": []}

    # When it is scanned again, then nothing is new
    again = scan(env, repo)
    assert (again["new"], again["unchanged"]) == (0, 2)
    assert len(items(env)) == 2

    # When a line is deleted, then its item is gone and the other one stays
    (repo / "TODO.md").write_text("# Tasks\n- [ ] Write the changelog entry\n", encoding="utf-8")
    after = scan(env, repo)
    assert (after["gone"], after["updated"]) == (1, 1)  # the survivor moved to line 2
    status = {i["title"]: i["status"] for i in items(env)}
    assert status == {"Fix broken links in docs": "gone", "Write the changelog entry": "pending"}


def test_weekly_item_returns_to_pending_and_waits_a_week(tmp_path):
    # Given a weekly link check in a repo with a moved docs file
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Fix broken links in docs @weekly\n",
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    env = helmq_env(tmp_path)

    # When it runs once, then it is done and back to pending with last_completed set
    first = run_helmq(["run-once", "--repo", str(repo), "--ignore-idle", "--json"], env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["by_status"] == {"pending": 1}
    [item] = items(env)
    shown = json.loads(run_helmq(["show", str(item["id"]), "--json"], env).stdout)
    moves = [(e["from_status"], e["to_status"]) for e in shown["events"]]
    assert moves[-2:] == [("reviewing", "done"), ("done", "pending")]
    second = run_helmq(["run-once", "--repo", str(repo), "--ignore-idle", "--json"], env)
    assert json.loads(second.stdout)["dispatched"] == 0
    [item] = items(env)
    assert item["status"] == "pending"
    assert item["recurrence"] == "weekly" and item["last_completed"]
    # And a recurring item's checkbox is not ticked on its branch
    assert "- [ ] Fix broken links in docs" in git(repo, "show", f"{item['branch']}:TODO.md")

    # When its last completion is eight days old, then it is dispatched again
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'helmq.db'}")
    completed = Repository(engine).get_item(item["id"]).last_completed
    with engine.begin() as conn:
        conn.execute(update(work_items).values(last_completed=completed - timedelta(days=8)))
    engine.dispose()
    third = run_helmq(["run-once", "--repo", str(repo), "--ignore-idle", "--json"], env)
    assert json.loads(third.stdout)["dispatched"] == 1


@pytest.mark.parametrize(("yaml_text", "line", "key"), [
    ("jobs:\n  j:\n    discovery: {strategy: autodo_scan, interval: soon}\n", 3,
     "jobs.j.discovery.interval"),
    ("jobs:\n  j:\n    discovery: {strategy: nosuch}\n", 3, "jobs.j.discovery.strategy"),
    ("jobs:\n  j:\n    eligibility:\n      require_user_idle_minutes: 5\n      colour: red\n", 5,
     "jobs.j.eligibility.colour"),
    ("jobs: [unclosed\n", 2, None),
])
def test_malformed_jobs_yaml_exits_2_naming_file_line_key(tmp_path, yaml_text, line, key):
    path = tmp_path / "jobs.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    out = run_helmq(["scan", "--repo", str(tmp_path)], helmq_env(tmp_path, HELMQ_CONFIG=str(path)))
    assert out.returncode == 2
    assert f"{path}:{line}:" in out.stderr
    if key:
        assert key in out.stderr
    assert "Traceback" not in out.stderr


def test_binary_and_huge_todo_files_are_skipped_and_the_scan_goes_on(tmp_path):
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Keep this one\n",
        "docs/TODO.md": "- [ ] x\n",
        "big/TODO.md": "- [ ] x\n",
    })
    (repo / "docs" / "TODO.md").write_bytes(b"- [ ] \x00\x01\x02binary")
    (repo / "big" / "TODO.md").write_bytes(b"- [ ] huge\n" * 200_000)
    out = run_helmq(["scan", "--repo", str(repo), "--json"], helmq_env(tmp_path))
    assert out.returncode == 0, out.stderr
    [job] = json.loads(out.stdout)
    assert job["new"] == 1
    warned = " ".join(job["warnings"])
    assert "docs/TODO.md" in warned and "binary" in warned
    assert "big/TODO.md" in warned and "limit" in warned
    assert "docs/TODO.md" in out.stderr  # and the warning is logged for a person too


def test_migrate_queue_imports_idempotently_and_reports_bad_entries(tmp_path):
    queue = tmp_path / "queue.yaml"
    queue.write_text("""todos:
  - {id: fix-links, title: Fix broken links, priority: p1, status: todo, tier: script,
     risk: low, custom_field: 7}
  - {id: weekly-audit, title: Audit deps, recurrence: weekly, status: completed,
     last_completed: "2026-11-20T10:00:00Z"}
  - {title: no id here}
""", encoding="utf-8")
    env = helmq_env(tmp_path)
    first = run_helmq(["migrate-queue", str(queue), "--json"], env)
    assert first.returncode == 1  # one entry was bad
    result = json.loads(first.stdout)
    assert (result["new"], result["entries"]) == (2, 2)
    assert "entry 2" in result["errors"][0]
    second = json.loads(run_helmq(["migrate-queue", str(queue), "--json"], env).stdout)
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 0, 2)
    by_key = {i["item_key"]: i for i in items(env)}
    assert by_key["fix-links"]["priority"] == 1 and by_key["fix-links"]["status"] == "pending"
    assert by_key["weekly-audit"]["status"] == "done"
    assert by_key["weekly-audit"]["last_completed"].startswith("2026-11-20T10:00:00")
    shown = json.loads(run_helmq(["show", "fix-links", "--json"], env).stdout)
    assert shown["data"]["custom_field"] == 7


def test_migrate_queue_rejects_a_file_that_is_not_a_queue(tmp_path):
    queue = tmp_path / "queue.yaml"
    queue.write_text("todos: [\n", encoding="utf-8")
    out = run_helmq(["migrate-queue", str(queue)], helmq_env(tmp_path))
    assert out.returncode == 1
    assert str(queue) in out.stderr and "Traceback" not in out.stderr


def test_worker_without_a_broker_url_is_a_usage_error(tmp_path):
    out = run_helmq(["worker", "-Q", "script"], helmq_env(tmp_path))
    assert out.returncode == 2
    assert "HELMQ_BROKER_URL" in out.stderr


def test_show_unknown_item(tmp_path):
    out = run_helmq(["show", "nope"], helmq_env(tmp_path))
    assert out.returncode == 1 and "nope" in out.stderr


@pytest.mark.slow
def test_up_finishes_what_a_killed_process_left_in_flight(tmp_path):
    # Given an embedded database where an item was mid-pipeline when helmq was killed
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Fix broken links in docs\n",
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    env = helmq_env(tmp_path)
    scan(env, repo)
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'helmq.db'}")
    store = Repository(engine)
    [item] = items(env)
    data = {**store.get_item(item["id"]).data, "classify": {"check": "links"}}
    with engine.begin() as conn:
        conn.execute(update(work_items).values(status="executing", stage="execute",
                                               tier="script", attempt=3, data=data))

    # When `helmq up` starts again (user active, so nothing new is dispatched)
    run_helmq(["touch"], env)
    proc = subprocess.Popen([sys.executable, "-m", "helmq.cli.main", "up", "--repo", str(repo),
                             "--port", str(free_port())],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.get_item(item["id"]).status != "done":
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)

    # Then the in-flight item was re-queued and finished, and up stopped cleanly
    done = store.get_item(item["id"])
    assert done.status == "done", err
    assert "re-queued 1 item(s)" in err
    assert proc.returncode == 0, err
    engine.dispose()


SLOW_CHECK = '''
import os
import time

from helmq.checks.registry import FixResult, Problem, register


class SlowCheck:
    """A check whose fixer takes a few seconds, so a test can kill helmq mid-execute."""

    name = "slow"
    keywords = ("slow check",)
    needs_worktree = True

    def detect(self, root):
        done = (root / "slow.done").exists()
        return [] if done else [Problem("slow.done", 1, "missing", {})]

    def fix(self, root):
        time.sleep(float(os.environ.get("SLOW_CHECK_SECONDS", "3")))
        (root / "slow.done").write_text("ok")
        return FixResult(fixed=1, unfixed=[], notes=[])

    def scope(self, problems):
        return {"slow.done"}


register(SlowCheck())
'''


@pytest.mark.slow
def test_up_killed_mid_execute_finishes_the_item_after_restart(tmp_path):
    # Given `helmq up` working on an item whose fixer takes a few seconds
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(SLOW_CHECK, encoding="utf-8")
    repo = make_git_repo(tmp_path / "app", {"TODO.md": "- [ ] Run the slow check\n"})
    before = (repo / "TODO.md").read_bytes()
    env = helmq_env(tmp_path, PYTHONPATH=f"{plugin}:{ROOT}", SLOW_CHECK_SECONDS="4")
    store_url = f"sqlite:///{tmp_path / 'state' / 'helmq.db'}"

    def up() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "helmq.cli.main", "up", "--repo", str(repo),
                             "--port", str(free_port())],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    def wait_for(status: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = items(env) if (tmp_path / "state" / "helmq.db").exists() else []
            if found and found[0]["status"] == status:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"never {status}: {found}")

    first = up()
    try:
        wait_for("executing")
        # When the process is killed without any chance to clean up
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert items(env)[0]["status"] == "executing"

    # And started again
    second = up()
    try:
        done = wait_for("done")
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)

    # Then the item was re-queued under a new attempt and finished on its branch
    assert "re-queued 1 item(s)" in err
    engine = make_engine(store_url)
    events = Repository(engine).item_events(done["id"])
    engine.dispose()
    assert any("reconciled" in (e["message"] or "") for e in events)
    assert git(repo, "show", f"{done['branch']}:slow.done") == "ok"
    assert (repo / "TODO.md").read_bytes() == before
    assert not (repo / "slow.done").exists()


def test_worker_rejects_unknown_queues(tmp_path):
    env = helmq_env(tmp_path, HELMQ_BROKER_URL="redis://127.0.0.1:6379/14")
    out = run_helmq(["worker", "-Q", "script,gpu"], env)
    assert out.returncode == 2
    assert "gpu" in out.stderr and "control, script, llm, vario, claude" in out.stderr


def test_an_unreadable_repo_does_not_make_its_items_gone(tmp_path):
    # Given items found in a repo
    repo = make_git_repo(tmp_path / "app", {"TODO.md": TODO})
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(f"repos: [{repo}]\njobs:\n  j:\n    discovery: {{strategy: autodo_scan}}\n",
                    encoding="utf-8")
    env = helmq_env(tmp_path, HELMQ_CONFIG=str(jobs))
    assert run_helmq(["scan"], env).returncode == 0

    # When the repo is unavailable for a scan (say, an unmounted disk)
    repo.rename(tmp_path / "elsewhere")
    out = run_helmq(["scan", "--json"], env)

    # Then the scan warns about it and its items stay as they were
    [job] = json.loads(out.stdout)
    assert job["gone"] == 0 and str(repo) in job["warnings"][0]
    assert {i["status"] for i in items(env)} == {"pending"}


def test_a_dead_broker_is_a_clear_error_and_loses_no_item(tmp_path):
    # Given a broker URL where nothing listens
    repo = make_git_repo(tmp_path / "app", {"TODO.md": TODO})
    env = helmq_env(tmp_path, HELMQ_BROKER_URL="redis://:secret@127.0.0.1:6399/0")

    # When run-once tries to dispatch
    out = run_helmq(["run-once", "--repo", str(repo), "--ignore-idle"], env)

    # Then it says which broker and what happens next, hides the password, and keeps the items
    assert out.returncode == 2
    assert "cannot reach the broker at redis://:**@127.0.0.1:6399/0" in out.stderr
    assert "secret" not in out.stderr and "Traceback" not in out.stderr
    assert {i["status"] for i in items(env)} == {"queued"}


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    env = helmq_env(tmp_path,
                    HELMQ_DATABASE_URL="postgresql+psycopg://postgres:secret@127.0.0.1:5499/x")
    out = run_helmq(["items"], env)
    assert out.returncode == 2
    assert "127.0.0.1" in out.stderr and "5499" in out.stderr
    assert "secret" not in out.stderr and "Traceback" not in out.stderr


def test_bad_filters_are_usage_errors_and_show_json_stays_json(tmp_path):
    env = helmq_env(tmp_path)
    assert run_helmq(["items", "--status", "bogus"], env).returncode == 2
    assert run_helmq(["items", "--tier", "gpu"], env).returncode == 2
    missing = run_helmq(["show", "nope", "--json"], env)
    assert missing.returncode == 1 and json.loads(missing.stdout) is None


def test_a_second_embedded_helmq_on_the_same_state_dir_is_refused(tmp_path):
    # Given `helmq up` running on a state dir
    repo = make_git_repo(tmp_path / "app", {"TODO.md": TODO})
    env = helmq_env(tmp_path)
    run_helmq(["touch"], env)
    up = subprocess.Popen([sys.executable, "-m", "helmq.cli.main", "up", "--repo", str(repo),
                             "--port", str(free_port())],
                          env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "state" / "embedded.lock").exists():
            assert time.monotonic() < deadline and up.poll() is None
            time.sleep(0.1)
        time.sleep(0.5)
        # When an embedded run-once starts on the same state dir
        out = run_helmq(["run-once", "--repo", str(repo)], env)
    finally:
        up.send_signal(signal.SIGTERM)
        up.communicate(timeout=30)
    # Then it is refused instead of taking over the other's in-flight items
    assert out.returncode == 2
    assert "another embedded helmq" in out.stderr


LOSE_ONE_FINISH = '''
from helmq.store.pipeline_queries import PipelineQueries

_finish = PipelineQueries.finish_stage
_lost = []


def finish_stage(self, claim, outcome, **kw):
    # The first execute's outcome never reaches the database: a task that dies outside
    # its stage function (after the claim, before the finish).
    if claim.stage == "execute" and not _lost:
        _lost.append(claim)
        raise RuntimeError("simulated crash between claim and finish")
    return _finish(self, claim, outcome, **kw)


PipelineQueries.finish_stage = finish_stage
'''


@pytest.mark.slow
def test_embedded_run_once_recovers_a_message_lost_inside_the_process(tmp_path):
    # Given an execute task that dies after its claim, leaving the item `executing`
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(LOSE_ONE_FINISH, encoding="utf-8")
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Fix broken links in docs\n",
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    env = helmq_env(tmp_path, PYTHONPATH=f"{plugin}:{ROOT}")

    # When run-once runs (its stage lease is an hour, its timeout one minute)
    out = run_helmq(["run-once", "--repo", str(repo), "--timeout", "60", "--json"], env)

    # Then it noticed that nothing was left running, re-queued the item and finished it
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["by_status"] == {"done": 1}
    assert "whose messages were lost inside this process" in out.stderr


def test_scan_finds_todo_comments_in_code_and_marks_removed_ones_gone(tmp_path):
    # Given a repo with a TODO.md item and a FIXME comment in its code
    repo = make_git_repo(tmp_path / "app", {
        "TODO.md": "- [ ] Write the changelog entry\n",
        "app/main.py": 'URL = "http://example.com/TODO"  # FIXME(ana): read it from settings\n',
    })
    env = helmq_env(tmp_path)

    # When it is scanned, then both are items, the comment with its owner and place
    assert scan(env, repo)["new"] == 2
    by_source = {i["source"]: i for i in items(env)}
    comment = by_source["code_comment"]
    assert (comment["title"], comment["source_file"], comment["line"]) == (
        "read it from settings", "app/main.py", 1)
    shown = json.loads(run_helmq(["show", str(comment["id"]), "--json"], env).stdout)
    assert (shown["data"]["marker"], shown["data"]["owner"]) == ("FIXME", "ana")

    # When the comment moves down a line, then it is the same item
    (repo / "app" / "main.py").write_text(
        '\n\nURL = "x"  # FIXME(ana): read it from settings\n', encoding="utf-8")
    again = scan(env, repo)
    assert (again["new"], again["gone"]) == (0, 0)

    # When it is deleted, then its item is gone and the TODO.md item is untouched
    (repo / "app" / "main.py").write_text('URL = "x"\n', encoding="utf-8")
    assert scan(env, repo)["gone"] == 1
    status = {i["source"]: i["status"] for i in items(env)}
    assert status == {"code_comment": "gone", "todo_md": "pending"}


def test_a_reader_that_goes_away_ends_the_listing_quietly(tmp_path):
    # Given more items than a pipe holds
    env = helmq_env(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'helmq.db'}")
    (tmp_path / "state").mkdir(parents=True, exist_ok=True)
    assert run_helmq(["db", "upgrade"], env).returncode == 0
    repo = Repository(engine)
    findings = [Finding(fingerprint=f"fp{n}", item_key=f"item-{n}", title=f"Item {n} " + "x" * 60,
                        source_file="TODO.md", line=n, data={"title": f"Item {n}"})
                for n in range(600)]
    repo.upsert_findings("codebase_maintenance", findings, sources={"todo_md"}, repos=[])
    engine.dispose()

    # When `helmq items --json | head -c 100` reads a little and closes the pipe
    proc = subprocess.Popen([sys.executable, "-m", "helmq.cli", "items", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)

    # Then helmq stops as a piped command does, without a traceback
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_run_once_with_repo_works_on_that_repo_only(tmp_path):
    # Given helmq knows the items of two repositories
    env = helmq_env(tmp_path)
    first = make_git_repo(tmp_path / "first", {"TODO.md": "- [ ] Tidy the first\n"})
    second = make_git_repo(tmp_path / "second", {"TODO.md": "- [ ] Tidy the second\n"})
    scan(env, second)

    # When run-once is limited to the first
    out = run_helmq(["run-once", "--repo", str(first), "--ignore-idle", "--json"], env)
    assert out.returncode == 0, out.stderr

    # Then only the first repo's item was dispatched (it waits to be classified), and
    # `items --repo` lists each repo's own
    assert [i["title"] for i in json.loads(out.stdout)["items"]] == ["Tidy the first"]
    by_title = {i["title"]: i for i in items(env)}
    assert by_title["Tidy the first"]["status"] == "waiting"
    assert by_title["Tidy the second"]["status"] == "pending"
    assert [i["title"] for i in items(env, "--repo", str(second))] == ["Tidy the second"]
    assert by_title["Tidy the second"]["repo"] == str(second.resolve())
