"""The web UI and JSON API, in process (TestClient) and over a real socket; SQLite and Postgres."""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from helmq.config.settings import Settings
from helmq.domain.model import Status
from helmq.runtime import Runtime
from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from helmq.store.schema import stage_runs, work_items
from helmq.store.ui_queries import ItemFilter, Refusal, UIQueries, paused_jobs
from helmq.web import create_app, serve_in_thread
from helmq.web.auth import MISSING, NO_TOKEN, WRONG
from tasks.scans import ScanLauncher, launcher
from tests.conftest import REDIS_URL, git, make_git_repo
from tests.support.ui import (
    API_KEY,
    EXTERNAL,
    INTERNAL,
    TOKEN,
    add,
    jobs_config,
    settings_for,
    ui_env,  # noqa: F401 - the `env` fixture
)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ids_on(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-id="(\d+)"', html)]


# --- tabs, filters, pages ----------------------------------------------------------------


def test_tabs_route_items_by_the_jobs_internal_flag(env) -> None:
    # Given an item of an internal job, one of an external job and one of a job not in jobs.yaml
    repo, client, state = env["repo"], env["client"], env["settings"].state_dir
    (state / "s1.jsonl").write_text("{}\n")
    (state / "r.md").write_text("# r\n")
    mine = add(repo, INTERNAL, "Fix the docs", report_path=str(state / "r.md"),
               data={"claude": {"transcript_path": str(state / "s1.jsonl")}})
    # A session or report whose file is not there gets no link
    bare = add(repo, INTERNAL, "No files", report_path=str(state / "x.md"),
               data={"claude": {"transcript_path": str(state / "s2.jsonl")}})
    theirs = add(repo, EXTERNAL, "Triage the feed")
    orphan = add(repo, "retired_job", "Old work")

    internal = client.get("/?tab=internal")
    external = client.get("/?tab=external")

    # Then each tab lists its own items, and only Internal has session and report columns
    assert internal.status_code == external.status_code == 200
    assert sorted(ids_on(internal.text)) == [mine, bare]
    assert sorted(ids_on(external.text)) == sorted([theirs, orphan])
    assert f'href="/items/{mine}/transcript"' in internal.text
    assert f'href="/items/{mine}/report"' in internal.text
    assert f"/items/{bare}/transcript" not in internal.text
    assert f"/items/{bare}/report" not in internal.text
    assert "<th>Session</th>" in internal.text and "<th>Session</th>" not in external.text
    assert "🔧" in internal.text and "📰" in external.text
    # The tab labels carry the counts
    assert re.search(r'id="tab-internal"[^>]*>Internal <span class="count">2</span>',
                     internal.text)
    assert re.search(r'id="tab-external"[^>]*>External <span class="count">2</span>',
                     internal.text)
    # Without ?tab the first tab with a configured job is shown: External here
    assert ids_on(client.get("/").text) == ids_on(external.text)


def test_filters_by_status_job_tier_and_search(env) -> None:
    repo, client = env["repo"], env["client"]
    failed = add(repo, EXTERNAL, "Broken link in README", status=Status.FAILED, tier="script",
                 failure_class="check_failed")
    done = add(repo, EXTERNAL, "Update changelog", status=Status.DONE, tier="llm_call")
    add(repo, "other", "Another broken link", status=Status.PENDING)

    assert ids_on(client.get("/?tab=external&status=failed").text) == [failed]
    assert ids_on(client.get("/?tab=external&tier=llm_call").text) == [done]
    assert sorted(ids_on(client.get(f"/?tab=external&job={EXTERNAL}").text)) == sorted(
        [failed, done])
    # Search is case-insensitive on the title and matches ids
    found = ids_on(client.get("/?tab=external&q=BROKEN LINK").text)
    assert len(found) == 2 and failed in found
    assert ids_on(client.get(f"/?tab=external&q=%23{done}").text) == [done]
    # `%` and `_` are literal characters in a search, not wildcards
    assert ids_on(client.get("/?tab=external&q=%25").text) == []
    empty = client.get("/?tab=external&status=rejected")
    assert ids_on(empty.text) == [] and "No items match these filters" in empty.text
    # An unknown status is refused with the choices
    bad = client.get("/?status=exploded")
    assert bad.status_code == 400 and "pending" in bad.text


def test_pages_and_sort(env) -> None:
    repo, client = env["repo"], env["client"]
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    made = [add(repo, EXTERNAL, f"Item {n}", updated_at=t0 + timedelta(minutes=n),
                priority=n % 3) for n in range(5)]

    first = client.get("/?tab=external&per=2")
    second = client.get("/?tab=external&per=2&page=2")
    last = client.get("/?tab=external&per=2&page=3")

    # Newest first by default, two per page, with next/prev links
    assert ids_on(first.text) == [made[4], made[3]]
    assert ids_on(second.text) == [made[2], made[1]]
    assert ids_on(last.text) == [made[0]]
    assert "1–2 of 5" in first.text and 'rel="prev"' not in first.text
    assert 'href="/?tab=external&amp;page=2&amp;per=2"' in first.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in last.text
    by_priority = ids_on(client.get("/?tab=external&sort=priority").text)
    assert by_priority == [made[0], made[3], made[1], made[4], made[2]]
    # The live-refresh fragment is the table alone
    fragment = client.get("/?tab=external&per=2&fragment=1")
    assert ids_on(fragment.text) == [made[4], made[3]] and "<html" not in fragment.text


def test_counts_stop_at_the_cap(env, monkeypatch) -> None:
    import helmq.web.pages as pages

    monkeypatch.setattr(pages, "COUNT_CAP", 3)
    for n in range(5):
        add(env["repo"], EXTERNAL, f"Item {n}")
    page = env["client"].get("/?tab=external&per=2")
    assert "of 3+" in page.text and '<span class="count">3+</span>' in page.text
    assert UIQueries(env["repo"].engine).count_items(ItemFilter(), cap=3) == 4


def test_item_text_is_escaped_everywhere(env) -> None:
    # Given an item whose title, data, report and transcript hold markup
    repo, client, state = env["repo"], env["client"], env["settings"].state_dir
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    report = state / "reports" / "evil.md"
    report.parent.mkdir(parents=True)
    report.write_text(f"# Report\n\n{evil}\n\n[click](javascript:alert(1))\n", encoding="utf-8")
    transcript = state / "transcripts" / "s-evil.jsonl"
    transcript.parent.mkdir(parents=True)
    transcript.write_text(json.dumps({"type": "assistant", "message": {"content": [
        {"type": "text", "text": evil}, {"type": "tool_use", "name": "Bash",
                                          "input": {"command": evil}}]}}) + "\n")
    item = add(repo, INTERNAL, evil, report_path=str(report),
               data={"note": evil, "transcript_path": str(transcript)})

    pages = [client.get(url) for url in ("/?tab=internal", f"/items/{item}",
                                         f"/items/{item}/report", f"/items/{item}/transcript")]

    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(" in page.text
        assert 'href="javascript:' not in page.text


def test_no_secret_reaches_a_page(env) -> None:
    item = add(env["repo"], INTERNAL, "Something")
    client = env["client"]
    for url in ("/?tab=internal", "/?tab=external", f"/items/{item}", "/api/items",
                f"/api/items/{item}", "/metrics", "/healthz"):
        body = client.get(url).text
        assert TOKEN not in body and API_KEY not in body, url


# --- the item page ------------------------------------------------------------------------


def test_item_page_shows_fields_timeline_runs_report_and_diff(env, tmp_path) -> None:
    # Given an item with a branch holding one commit, a report and a stage run with an error
    repo, client, state = env["repo"], env["client"], env["settings"].state_dir
    src = make_git_repo(tmp_path / "src", {"README.md": "hello\n"})
    base = git(src, "rev-parse", "HEAD").strip()
    git(src, "checkout", "-q", "-b", "helmq/fix-readme")
    (src / "README.md").write_text("hello world\n", encoding="utf-8")
    git(src, "commit", "-qam", "fix")
    git(src, "checkout", "-q", "main")
    report = state / "reports" / "fix.md"
    report.parent.mkdir(parents=True)
    report.write_text("# Fix README\n\n- verdict: **accept**\n", encoding="utf-8")
    item = add(repo, INTERNAL, "Fix README", status=Status.NEEDS_WORK, branch="helmq/fix-readme",
               report_path=str(report), cost_usd=0.0123, tier="llm_call",
               data={"repo": str(src), "execute": {"base_commit": base},
                     "review": {"verdict": "needs_work"}})
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    with repo.engine.begin() as conn:
        conn.execute(insert(stage_runs).values(
            item_id=item, stage="execute", attempt=1, tier="llm_call", task_id="task-abc-123",
            worker="w1@host", started_at=t0, finished_at=t0 + timedelta(seconds=42),
            outcome="failed", cost_usd=0.0123, error_class="timeout", error="took too long"))

    page = client.get(f"/items/{item}").text

    assert "needs_work" in page and "llm_call" in page and "$0.0123" in page
    assert "discovered" in page  # the timeline
    assert "http://127.0.0.1:5555/task/task-abc-123" in page
    assert "timeout" in page and "took too long" in page and "42.0s" in page
    assert "<strong>accept</strong>" in page  # the report, rendered
    assert '<span class="del">-hello</span>' in page
    assert '<span class="add">+hello world</span>' in page
    assert client.get("/items/999999").status_code == 404
    # The live-refresh fragment holds the fields and the timeline, not the whole page
    fragment = client.get(f"/items/{item}?fragment=1").text
    assert "<h2>Timeline</h2>" in fragment and "<html" not in fragment
    # The JSON form is `helmq show --json`'s
    detail = client.get(f"/api/items/{item}").json()
    assert detail["diff"].startswith("diff --git") and detail["report"].startswith("# Fix")
    assert [r["task_id"] for r in detail["stage_runs"]] == ["task-abc-123"]
    assert detail["events"][0]["kind"] == "discovered"


def test_transcript_page_renders_the_turns(env) -> None:
    state = env["settings"].state_dir
    lines = [
        {"type": "system", "subtype": "init", "model": "claude-x", "cwd": "/w"},
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": "I will **fix** it."},
            {"type": "tool_use", "id": "tu1", "name": "Edit", "input": {"file": "a.py"}}]}},
        {"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "tu1", "content": "edited a.py",
             "is_error": False}]}},
        {"type": "result", "subtype": "success", "result": "Done.", "total_cost_usd": 0.05},
    ]
    path = state / "sessions" / "one.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n", encoding="utf-8")
    item = add(env["repo"], INTERNAL, "Session item", data={"transcript_path": str(path)})

    page = env["client"].get(f"/items/{item}/transcript").text

    assert "<strong>fix</strong>" in page
    assert "<code>Edit</code>" in page and "&#34;file&#34;: &#34;a.py&#34;" in page
    assert "edited a.py" in page and "Done." in page and "claude-x" in page
    assert "not json" in page


def test_report_and_transcript_outside_the_state_dir_are_refused(env, tmp_path,
                                                              monkeypatch) -> None:
    repo, client, state = env["repo"], env["client"], env["settings"].state_dir
    outside = tmp_path / "secret.md"
    outside.write_text("# secret\n", encoding="utf-8")
    (state / "reports").mkdir(parents=True)
    (state / "reports" / "link.md").symlink_to(outside)
    inside = state / "reports" / "ok.md"
    inside.write_text("# fine\n", encoding="utf-8")
    cases = {
        "absolute": add(repo, INTERNAL, "A", report_path=str(outside)),
        "dotdot": add(repo, INTERNAL, "B", report_path=str(state / "reports" / ".." / ".."
                                                              / "secret.md")),
        "symlink": add(repo, INTERNAL, "C", report_path=str(state / "reports" / "link.md")),
        "passwd": add(repo, INTERNAL, "D", report_path="/etc/passwd"),
        "transcript": add(repo, INTERNAL, "E", data={"transcript_path": str(outside)}),
    }
    fine = add(repo, INTERNAL, "F", report_path=str(inside))

    for name, item in cases.items():
        kind = "transcript" if name == "transcript" else "report"
        got = client.get(f"/items/{item}/{kind}")
        assert got.status_code == 404, name
        assert "secret" not in got.text and "root:" not in got.text
        assert "secret" not in client.get(f"/items/{item}").text.split("<h2>Data")[0]
    assert client.get(f"/items/{fine}/report").status_code == 200
    # Transcripts may also live in the Claude tier's config dir, when it is set elsewhere
    claude = tmp_path / "claude"
    session = claude / "projects" / "w" / "s1.jsonl"
    session.parent.mkdir(parents=True)
    session.write_text('{"type": "user", "message": {"content": "hello there"}}\n')
    there = add(repo, INTERNAL, "G", data={"claude": {"transcript_path": str(session)}})
    assert client.get(f"/items/{there}/transcript").status_code == 404
    told = replace(env["settings"], transcript_dirs=Settings.from_env(
        {"HELMQ_CLAUDE_CONFIG_DIR": str(claude)}).transcript_dirs)
    with TestClient(create_app(told, repo=repo, jobs=jobs_config(tmp_path))) as elsewhere:
        assert "hello there" in elsewhere.get(f"/items/{there}/transcript").text
    assert client.get("/items/1/report/../../../../etc/passwd").status_code == 404


def test_api_items_pages_with_a_link_header(env) -> None:
    for n in range(3):
        add(env["repo"], EXTERNAL, f"Item {n}")
    first = env["client"].get("/api/items?limit=2")
    assert len(first.json()) == 2
    nxt = re.match(r'<([^>]+)>; rel="next"', first.headers["link"]).group(1)
    rest = env["client"].get(nxt)
    assert len(rest.json()) == 1 and "link" not in rest.headers


# --- actions and the token ------------------------------------------------------------------

ACTIONS = ["/api/items/{id}/retry", "/api/items/{id}/approve", "/api/items/{id}/reject",
           "/api/jobs/maint/pause", "/api/jobs/maint/resume", "/api/jobs/maint/scan"]


def test_every_action_needs_the_token(env) -> None:
    item = add(env["repo"], INTERNAL, "Guarded", status=Status.NEEDS_WORK)
    client = env["client"]
    for url in (a.format(id=item) for a in ACTIONS):
        missing = client.post(url)
        assert missing.status_code == 401 and missing.json()["detail"] == MISSING, url
        assert missing.headers["www-authenticate"] == "Bearer"
        assert client.post(url, headers={"Authorization": TOKEN}).status_code == 401
        wrong = client.post(url, headers=auth("nope"))
        assert wrong.status_code == 403 and wrong.json()["detail"] == WRONG
    # Nothing changed
    assert env["repo"].get_item(item).status is Status.NEEDS_WORK
    assert UIQueries(env["repo"].engine).paused_jobs() == set()


def test_without_a_configured_token_every_action_is_refused(tmp_path, repo, db_url) -> None:
    app = create_app(settings_for(tmp_path, db_url, token=None), repo=repo,
                     jobs=jobs_config(tmp_path))
    item = add(repo, INTERNAL, "Guarded", status=Status.FAILED)
    with TestClient(app) as client:
        for url in (a.format(id=item) for a in ACTIONS):
            for headers in ({}, auth(), auth("")):
                got = client.post(url, headers=headers)
                assert got.status_code == 403 and got.json()["detail"] == NO_TOKEN, url
        assert "No HELMQ_UI_TOKEN is configured" in client.get("/").text
    assert repo.get_item(item).status is Status.FAILED


def test_retry_approve_and_reject(env) -> None:
    repo, client = env["repo"], env["client"]
    failed = add(repo, INTERNAL, "Failed", status=Status.FAILED, failure_class="check_failed")
    review = add(repo, INTERNAL, "Needs work", status=Status.NEEDS_WORK,
                 data={"review": {"verdict": "needs_work", "reasons": ["tests fail"]}})
    running = add(repo, INTERNAL, "Running", status=Status.EXECUTING)

    # Retry: failed → pending, the failure class cleared, the history kept
    got = client.post(f"/api/items/{failed}/retry", headers=auth())
    assert got.status_code == 200 and got.json()["item"]["status"] == "pending"
    item = repo.get_item(failed)
    assert (item.status, item.failure_class) == (Status.PENDING, None)
    assert [e["kind"] for e in repo.item_events(failed)] == ["discovered", "retried"]
    assert repo.item_events(failed)[-1]["detail"] == {"by": "ui"}

    # Approve: needs_work → done with verdict accept, approved by a person
    got = client.post(f"/api/items/{review}/approve", headers=auth())
    assert got.status_code == 200
    item = repo.get_item(review)
    assert item.status is Status.DONE and item.last_completed is not None
    assert item.data["review"] == {"verdict": "accept", "reasons": ["tests fail"],
                                   "approved_by": "ui", "reviewer_verdict": "needs_work"}
    assert repo.item_events(review)[-1]["message"] == "approved by a person: accepted as it is"
    assert client.get(f"/items/{review}").text.count("accept") >= 1

    # Approve applies only to needs_work; a running item cannot be rejected
    again = client.post(f"/api/items/{review}/approve", headers=auth())
    assert again.status_code == 409 and "needs_work" in again.json()["detail"]
    busy = client.post(f"/api/items/{running}/reject", headers=auth())
    assert busy.status_code == 409 and "executing" in busy.json()["detail"]
    assert repo.get_item(running).status is Status.EXECUTING

    # Reject a settled item; rejecting it again is a conflict; unknown ids are 404
    assert client.post(f"/api/items/{review}/reject", headers=auth()).status_code == 200
    assert repo.get_item(review).status is Status.REJECTED
    assert client.post(f"/api/items/{review}/reject", headers=auth()).status_code == 409
    assert client.post("/api/items/999999/retry", headers=auth()).status_code == 404
    assert client.post(f"/api/items/{review}/explode", headers=auth()).status_code in (404, 405)


# Postgres only: on SQLite, BEGIN IMMEDIATE serialises writers, so no stage can move the
# item between the action's read and its write.
@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
def test_an_action_does_not_clobber_a_stage_that_moved_the_item(env) -> None:
    # Given an item that a stage claims between the action's read and its write
    repo = env["repo"]
    item = add(repo, INTERNAL, "Raced", status=Status.FAILED)
    queries = UIQueries(repo.engine)
    real_execute = None

    def claim_meanwhile(conn, *args, **kwargs):
        nonlocal real_execute
        result = real_execute(conn, *args, **kwargs)
        if getattr(args[0], "is_select", False):
            with repo.engine.begin() as other:
                other.execute(update(work_items).where(work_items.c.id == item)
                              .values(status=Status.QUEUED, attempt=work_items.c.attempt + 1))
        return result

    from sqlalchemy.engine import Connection

    real_execute = Connection.execute
    try:
        Connection.execute = claim_meanwhile
        result = queries.retry_item(item)
    finally:
        Connection.execute = real_execute

    assert result.refused is Refusal.CHANGED
    assert repo.get_item(item).status is Status.QUEUED


def test_pause_and_resume_persist_for_dispatch(env) -> None:
    client, repo = env["client"], env["repo"]
    assert client.post("/api/jobs/maint/pause", headers=auth()).json()["paused"] is True
    assert paused_jobs(repo) == {"maint"} and paused_jobs(repo.engine) == {"maint"}
    page = client.get("/?tab=internal").text
    assert 'data-action="/api/jobs/maint/resume"' in page
    assert 'data-action="/api/jobs/maint/pause"' not in page
    assert "helmq_job_paused{job=\"maint\"} 1" in client.get("/metrics").text

    assert client.post("/api/jobs/maint/resume", headers=auth()).status_code == 200
    assert paused_jobs(repo) == set()
    # A job paused in jobs.yaml cannot be resumed from the UI; unknown jobs are 404
    frozen = client.post("/api/jobs/frozen/resume", headers=auth())
    assert frozen.status_code == 409 and "jobs.yaml" in frozen.json()["detail"]
    assert client.post("/api/jobs/nope/pause", headers=auth()).status_code == 404
    assert client.post("/api/jobs/frozen/scan", headers=auth()).status_code == 409


def test_scan_now_without_a_broker_scans_in_a_thread(tmp_path, repo, db_url) -> None:
    src = make_git_repo(tmp_path / "src", {"TODO.md": "- [ ] Write the docs\n"})
    settings, jobs = settings_for(tmp_path, db_url), jobs_config(tmp_path, repos=[src])
    app = create_app(settings, repo=repo, jobs=jobs,
                     scans=ScanLauncher(settings, lambda: repo, lambda: jobs, lambda: None))
    with TestClient(app) as client:
        got = client.post("/api/jobs/maint/scan", headers=auth())
        assert got.status_code == 202 and got.json()["via"] == "thread"
        assert app.state.ctx.scans.wait_idle()
    assert [i.title for i in repo.list_items(jobs=["maint"])] == ["Write the docs"]
    assert repo.recent_scans("maint")[0]["counts"]["new"] == 1


@pytest.mark.redis
def test_scan_now_with_a_broker_sends_the_scan_task(tmp_path, sqlite_url) -> None:
    import redis

    # A database of its own: workers of other tests consume `control` on the shared one.
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/12"
    redis.Redis.from_url(redis_url).flushdb()
    settings = settings_for(tmp_path, sqlite_url, broker_url=redis_url)
    repo = Repository(make_engine(sqlite_url))
    jobs = jobs_config(tmp_path)
    app = create_app(settings, repo=repo, jobs=jobs,
                     scans=launcher(Runtime(settings, jobs)))
    with TestClient(app) as client:
        got = client.post("/api/jobs/feeds/scan", headers=auth())
    assert got.status_code == 202 and got.json()["via"] == "celery"
    [message] = redis.Redis.from_url(redis_url).lrange("control", 0, -1)
    body = json.loads(message)
    assert body["headers"]["task"] == "helmq.scan" and body["headers"]["id"] == got.json()[
        "task_id"]
    repo.engine.dispose()


# --- health and metrics -----------------------------------------------------------------------


def test_healthz(env, tmp_path) -> None:
    assert env["client"].get("/healthz").json() == {"status": "ok", "database": "ok"}
    broken = settings_for(tmp_path, "postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    lazy = Runtime(broken)
    with TestClient(create_app(broken, repo=lambda: lazy.repo,
                               jobs=jobs_config(tmp_path))) as client:
        got = client.get("/healthz")
    assert got.status_code == 503 and got.json()["status"] == "unhealthy"
    assert "pw" not in got.text


def test_metrics(env) -> None:
    repo, client = env["repo"], env["client"]
    add(repo, INTERNAL, "P", updated_at=datetime.now(UTC) - timedelta(seconds=120))
    run_item = add(repo, INTERNAL, "Q", status=Status.DONE, tier="script")
    now = datetime.now(UTC)
    with repo.engine.begin() as conn:
        for secs, cost in ((3, 0.25), (30, 0.5)):
            conn.execute(insert(stage_runs).values(
                item_id=run_item, stage="execute", attempt=1, started_at=now - timedelta(
                    seconds=secs), finished_at=now, outcome="ok", cost_usd=cost))

    got = client.get("/metrics")

    assert got.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = got.text
    assert 'helmq_items{status="pending",tier="none"} 1' in text
    assert 'helmq_items{status="done",tier="script"} 1' in text
    assert 'helmq_items{status="failed",tier="vario"} 0' in text
    age = float(re.search(r"^helmq_oldest_pending_age_seconds (\S+)$", text, re.M).group(1))
    assert 115 < age < 400
    assert 'helmq_stage_duration_seconds_bucket{stage="execute",le="5.0"} 1' in text
    assert 'helmq_stage_duration_seconds_bucket{stage="execute",le="+Inf"} 2' in text
    assert 'helmq_stage_duration_seconds_count{stage="execute"} 2' in text
    total = float(re.search(r'helmq_stage_duration_seconds_sum\{stage="execute"\} (\S+)',
                            text).group(1))
    assert 32 < total < 34
    assert "helmq_cost_usd_today 0.75" in text
    assert 'helmq_breaker_open{tier="claude_session"} 0' in text
    # An open breaker shows; one that has cooled down does not
    from helmq.store.session_queries import tier_breakers

    with repo.engine.begin() as conn:
        for tier, until in (("vario", now + timedelta(minutes=5)),
                            ("llm_call", now - timedelta(minutes=5))):
            conn.execute(insert(tier_breakers).values(tier=tier, open_until=until,
                                                      opened_at=now, updated_at=now))
    text = client.get("/metrics").text
    assert 'helmq_breaker_open{tier="vario"} 1' in text
    assert 'helmq_breaker_open{tier="llm_call"} 0' in text
    for line in text.splitlines():
        assert line.startswith(("# HELP helmq_", "# TYPE helmq_", "helmq_")), line


# --- a real server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_over_a_real_socket_on_loopback(tmp_path, repo, db_url) -> None:
    port = free_port()
    ui = serve_in_thread(settings_for(tmp_path, db_url), port=port, repo=repo,
                         jobs=jobs_config(tmp_path))
    try:
        item = add(repo, INTERNAL, "Over the wire", status=Status.FAILED)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        page = httpx.get(f"{base}/?tab=internal")
        assert page.status_code == 200 and "Over the wire" in page.text
        assert "app;dur=" in page.headers["server-timing"]
        assert httpx.post(f"{base}/api/items/{item}/retry").status_code == 401
        assert httpx.post(f"{base}/api/items/{item}/retry", headers=auth()).status_code == 200
        assert ui.server.config.host == "127.0.0.1"
    finally:
        ui.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ui.thread.is_alive():
        time.sleep(0.05)
    assert not ui.thread.is_alive()
