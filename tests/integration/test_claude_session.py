"""The Claude session tier: the real `claude` CLI against the fake Messages API, in worktrees
of real git repositories, with progress and outcomes recorded in a real database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import FakeAnthropic, hang, overloaded, slow, text, tool_use

from helmq.config.settings import Settings
from helmq.domain.fingerprint import fingerprint
from helmq.domain.item import WorkItem
from helmq.domain.model import Finding, Stage, Status, Tier
from helmq.domain.outcome import Outcome
from helmq.errors import SlotBusy
from helmq.repos.last_active import touch_last_active
from helmq.runtime import claude_config
from helmq.store.engine import make_engine
from helmq.store.repository import Claim, Repository
from helmq.store.session_queries import SessionQueries, tier_breakers
from helmq.tiers.claude.config import ClaudeConfig, bundled_claude
from helmq.tiers.claude.outcome import SessionOutcome, classify_session
from helmq.tiers.claude.process import SessionSpec, Stop, group_alive, run_session
from helmq.tiers.claude.prompt import build_prompt
from helmq.tiers.claude.session import cli_argv, cli_env, execute_claude
from helmq.tiers.claude.slot import session_slot
from helmq.tiers.claude.transcript import project_dir_name
from helmq.tiers.context import StageContext
from tests.conftest import git, make_git_repo, tree_snapshot
from tests.support.claude_session import KEY, MODEL, T0

JOB = "codebase_maintenance"


needs_cli = pytest.mark.skipif(bundled_claude() is None,
                               reason="claude-agent-sdk's bundled claude is missing")


class Repo(Repository, SessionQueries):
    """The repository as the lead wires it, spying on the session's progress records."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.records: list[dict[str, Any]] = []
        self.on_record: list = []

    def record_session(self, item_id, attempt, session, **kw) -> bool:
        self.records.append(dict(session))
        for hook in self.on_record:
            hook(session)
        return super().record_session(item_id, attempt, session, **kw)


class Harness:
    """A user's project, helmq's state beside it, and items driven to the execute stage."""

    def __init__(self, tmp_path: Path, repo: Repo, fake: FakeAnthropic | None) -> None:
        self.tmp = tmp_path
        self.repo = repo
        self.fake = fake
        self.project = make_git_repo(tmp_path / "project", {
            "app.py": "print('helo world')\n", "README.md": "# app\n"})
        self.state = tmp_path / "state"
        self.dirs = StageContext(worktrees_dir=self.state / "worktrees",
                                 reports_dir=self.state / "reports", llm_credentials=True)
        self.last_active = tmp_path / "last_active.json"
        self.config = ClaudeConfig(
            config_dir=self.state / "claude", bin=str(bundled_claude()), api_key=KEY,
            base_url=fake.url if fake else None, model=MODEL, max_minutes=1.0,
            last_active_path=self.last_active, stop_grace_seconds=2.0, progress_seconds=0.2,
            resume_idle_minutes=1.5 / 60, lease_seconds=120,
            env={"CLAUDE_CODE_MAX_RETRIES": "0"}, parent_env={"PATH": os.environ["PATH"]},
        )

    def worktree(self, key: str) -> Path:
        return (self.dirs.worktrees_dir / key).resolve()

    def add_item(self, key: str, title: str, **data: Any) -> int:
        fp = fingerprint(str(self.project), "TODO.md", title)
        self.repo.upsert_findings(JOB, [Finding(
            fingerprint=fp, item_key=key, title=title, source_file="TODO.md", line=3,
            data={"title": title, "source": f"test-{key}", "repo": str(self.project),
                  "tier": "claude_session", **data})], sources={f"test-{key}"},
            repos=[str(self.project)])  # a source per item: adding one never makes another gone
        item = self.repo.get_item(key)
        assert item is not None
        return item.id

    def claim_execute(self, item_id: int, now: datetime | None = None) -> Claim:
        """Dispatch the item and pass classify, as the pipeline would; the execute claim."""
        [d] = self.repo.claim_eligible(JOB, accept=lambda i: i.id == item_id, limit=1,
                                       lease_seconds=60, now=now)
        classify = self.repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=60)
        self.repo.finish_stage(classify, Outcome(Status.QUEUED, "ok", "rules", stage=Stage.EXECUTE,
                                                 tier=Tier.CLAUDE_SESSION),
                               max_review_rounds=3, lease_seconds=60)
        claim = self.repo.claim_stage(d.handoff, Stage.EXECUTE, lease_seconds=60)
        assert claim is not None
        return claim

    def execute(self, claim: Claim, config: ClaudeConfig | None = None) -> tuple[Outcome, WorkItem]:
        """Run the tier on the claimed item and record its outcome; the outcome and the row."""
        outcome = execute_claude(claim.item, self.dirs, repo=self.repo,
                                 config=config or self.config)
        finish = self.repo.finish_stage(claim, outcome, max_review_rounds=3, lease_seconds=60)
        assert finish.applied
        item = self.repo.get_item(claim.item.id)
        assert item is not None
        return outcome, item

    def run(self, key: str, title: str, config: ClaudeConfig | None = None,
            **data: Any) -> tuple[Outcome, WorkItem]:
        return self.execute(self.claim_execute(self.add_item(key, title, **data)), config)


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAnthropic]:
    with FakeAnthropic(tmp_path / "requests.jsonl", ping_interval=0.1) as server:
        yield server


@pytest.fixture
def h(tmp_path: Path, sqlite_url: str, fake: FakeAnthropic) -> Iterator[Harness]:
    engine = make_engine(sqlite_url)
    yield Harness(tmp_path, Repo(engine), fake)
    engine.dispose()


@pytest.fixture
def h_any(tmp_path: Path, db_url: str, fake: FakeAnthropic) -> Iterator[Harness]:
    """The harness on SQLite (embedded) and on Postgres (deployment)."""
    engine = make_engine(db_url)
    yield Harness(tmp_path, Repo(engine), fake)
    engine.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Repo]:
    engine = make_engine(db_url)
    yield Repo(engine)
    engine.dispose()


def branch_files(project: Path, branch: str) -> dict[str, str]:
    names = git(project, "ls-tree", "-r", "--name-only", branch).split()
    return {n: git(project, "show", f"{branch}:{n}") for n in names}


# --- acceptance 1: a real session edits the worktree and leaves everything behind ------


@needs_cli
def test_session_changes_its_branch_and_records_session_transcript_report_and_cost(h_any, fake):
    h = h_any
    # Given a user's project with uncommitted work, and a fake model that reads, edits and
    # writes in the worktree, tries to write into the user's checkout, then reports
    key = "fix-greeting"
    wt = h.worktree(key)
    (h.project / "scratch.txt").write_text("the user's own unsaved work\n")
    (h.tmp / "secret.txt").write_text("top secret\n")
    before, head = tree_snapshot(h.project), git(h.project, "rev-parse", "HEAD")
    fake.script(
        tool_use("Read", {"file_path": str(wt / "app.py")}),
        slow(tool_use("Edit", {"file_path": str(wt / "app.py"), "old_string": "helo",
                               "new_string": "hello"}), 0.6),
        tool_use("Write", {"file_path": str(wt / "NOTES.md"), "content": "greeting fixed\n"}),
        tool_use("Write", {"file_path": str(h.project / "app.py"), "content": "hijacked\n"}),
        tool_use("Read", {"file_path": str(h.tmp / "secret.txt")}),
        text("Fixed the greeting typo in app.py and wrote NOTES.md.", input_tokens=40,
             output_tokens=12),
    )

    # When the tier runs the item
    outcome, item = h.run(key, "Fix the greeting typo", description="it says helo",
                          scope=["app.py"])

    # Then the chain goes on to review with the change committed on the item's branch
    assert (outcome.status, outcome.stage, outcome.label) == (Status.QUEUED, Stage.REVIEW, "ok")
    assert (item.status, item.stage, item.branch) == (Status.QUEUED, Stage.REVIEW,
                                                      "helmq/fix-greeting")
    files = branch_files(h.project, "helmq/fix-greeting")
    assert files["app.py"] == "print('hello world')\n"
    assert files["NOTES.md"] == "greeting fixed\n"
    # and the user's working tree and HEAD are untouched (the hijacking Write was refused)
    assert tree_snapshot(h.project) == before
    assert git(h.project, "rev-parse", "HEAD") == head
    session, ex = item.data["claude"], item.data["execute"]
    # and a read outside the worktree was refused too: its text never reached the model
    assert [d["tool_name"] for d in session["permission_denials"]] == ["Write", "Read"]
    assert "top secret" not in json.dumps(fake.requests)
    # and the session id, transcript, turns, tool calls, cost and report are recorded
    assert item.session_id == session["session_id"] == ex["session_id"]
    transcript = Path(session["transcript_path"])
    assert transcript.is_file() and transcript.is_relative_to(h.state)
    assert transcript.parent.name == project_dir_name(wt)
    assert session["transcript_found"] is True
    assert item.session_id in transcript.read_text()
    assert (session["turns"], session["tool_calls"]) == (6, 5)
    assert session["tools"] == {"Read": 2, "Edit": 1, "Write": 2}
    assert session["cost_estimated"] is False and item.cost_usd == pytest.approx(
        session["cost_usd"]) and item.cost_usd > 0
    assert ex["result"] == "Fixed the greeting typo in app.py and wrote NOTES.md."
    assert ex["changed_files"] == ["NOTES.md", "app.py"]
    assert ex["commit"] == git(h.project, "rev-parse", "helmq/fix-greeting").strip()
    report = Path(item.report_path)
    assert report.is_file() and ex["result"] in report.read_text()
    assert item.session_id in report.read_text() and "app.py | +1 -1" in report.read_text()
    # and progress was recorded while the session ran: id at once, then turns and tools
    running = [r for r in h.repo.records if r.get("state") == "running"]
    assert h.repo.records[0]["session_id"] == item.session_id
    assert running and any(r["tool_calls"] for r in running)
    # and the prompt went in on stdin, with the item's text, never on the command line
    first = json.dumps(fake.messages[0]["messages"])
    assert "Fix the greeting typo" in first and "it says helo" in first


@needs_cli
def test_the_cli_gets_only_the_environment_it_needs(h, fake, monkeypatch):
    monkeypatch.setenv("HELMQ_DATABASE_URL", "postgresql://helmq:secret@db/helmq")
    monkeypatch.setenv("HELMQ_UI_TOKEN", "ui-token-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    # As the composition root builds it: from everything Settings read
    inherited = claude_config(Settings.from_env()).parent_env

    env = cli_env(replace(h.config, parent_env=inherited))

    assert "HELMQ_DATABASE_URL" not in env and "HELMQ_UI_TOKEN" not in env
    assert env["ANTHROPIC_API_KEY"] == KEY and env["ANTHROPIC_BASE_URL"] == fake.url
    assert env["CLAUDE_CONFIG_DIR"] == str(h.state / "claude")
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["LANG"] == "C.UTF-8" and env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert not any("secret" in v for v in env.values())


# --- acceptance 2: helmq's own wall-clock limit -----------------------------------------


@needs_cli
def test_a_session_that_never_finishes_is_stopped_at_max_minutes(h, fake):
    # Given a model that never answers, and max:0.05 minutes (3 s) on the item
    fake.default = hang()

    outcome, item = h.run("slow-one", "Think forever", max_minutes=0.05)

    # Then the session was stopped by helmq and classified as a timeout
    session = item.data["claude"]
    assert (item.status, item.failure_class) == (Status.FAILED, "timeout")
    assert session["stop_signal"] == "SIGINT" and session["outcome"] == "timeout"
    assert 3.0 <= session["seconds"] < 10
    # and nothing of the process group is left
    assert session["pid"] and not group_alive(session["pid"])
    # and the session link and report are there although the CLI printed no result
    assert item.session_id and Path(session["transcript_path"]).is_file()
    assert "timeout" in Path(item.report_path).read_text()


# --- acceptance 3: the CLI's own limits ---------------------------------------------------


@needs_cli
@pytest.mark.parametrize(("data", "usage", "expected"), [
    ({"max_turns": 2}, {}, "max_turns"),
    # Haiku at $1/$5 per Mtok: 0.15 USD a turn, so the second turn passes 0.2 USD.
    ({"max_budget_usd": 0.2, "max_turns": 10}, {"input_tokens": 100_000,
                                                "output_tokens": 10_000}, "budget"),
])
def test_max_turns_and_budget_come_from_the_clis_result(h, fake, data, usage, expected):
    key = f"busy-{expected.replace('_', '-')}"
    fake.default = tool_use("Write", {"file_path": str(h.worktree(key) / "out.txt"),
                                      "content": "more\n"}, **usage)

    outcome, item = h.run(key, "Keep writing", **data)

    session = item.data["claude"]
    assert (item.status, item.failure_class) == (Status.FAILED, expected)
    assert session["terminal_reason"] == {"max_turns": "max_turns",
                                          "budget": "budget_exhausted"}[expected]
    assert item.cost_usd == pytest.approx(session["cost_usd"]) and item.cost_usd > 0
    # the work done so far is kept on the branch, with its report
    assert branch_files(h.project, item.branch)["out.txt"] == "more\n"
    assert Path(item.report_path).is_file()


@needs_cli
def test_an_overloaded_api_makes_the_item_wait_and_resume_later(h, fake):
    fake.default = overloaded()

    outcome, item = h.run("overloaded", "Do a thing")

    assert (item.status, item.waiting_reason) == (Status.WAITING, "api_error")
    assert item.data["claude"]["api_error_status"] == 529
    assert item.data["claude"]["resume_session_id"] == item.session_id
    assert item.lease_until > datetime.now(UTC) + timedelta(seconds=200)


# --- acceptance 4: pause policies ---------------------------------------------------------


def _touch_when_running(h: Harness, after: Path | None = None) -> None:
    """Make the user active once the session runs (and has written `after`)."""
    def hook(session: dict) -> None:
        if session.get("state") == "running" and (after is None or after.exists()) \
                and not h.last_active.exists():
            touch_last_active(h.last_active, datetime.now(UTC))
    h.repo.on_record.append(hook)


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@needs_cli
def test_pause_policy_pause_suspends_the_session_until_the_user_is_idle_again(h, fake):
    # Given a session whose model takes a while, and the user coming back meanwhile
    key = "pausable"
    fake.script(slow(tool_use("Write", {"file_path": str(h.worktree(key) / "p.txt"),
                                        "content": "p\n"}), 1.0), text("finished after a pause"))
    _touch_when_running(h)
    states: list[str] = []
    h.repo.on_record.append(lambda s: s.get("state") == "paused" and s.get("pid")
                            and states.append(_proc_state(s["pid"])))

    outcome, item = h.run(key, "Write p", pause_policy="pause")

    # Then the process group was stopped while the user was active, and resumed after
    session = item.data["claude"]
    assert states and set(states) == {"T"}
    assert session["pauses"] == 1 and session["paused_seconds"] >= 1.0
    assert item.status is Status.QUEUED and session["outcome"] == "ok"
    assert branch_files(h.project, item.branch)["p.txt"] == "p\n"


@needs_cli
def test_pause_policy_abort_requeues_and_the_next_run_resumes_the_session(h, fake):
    # Given a session that is busy when the user returns, under pause_policy abort
    key = "abortable"
    fake.script(tool_use("Write", {"file_path": str(h.worktree(key) / "half.txt"),
                                   "content": "half\n"}), hang())
    _touch_when_running(h, after=h.worktree(key) / "half.txt")
    item_id = h.add_item(key, "Write two halves", pause_policy="abort")

    outcome, item = h.execute(h.claim_execute(item_id))

    # Then it is stopped, waits as user_returned, and keeps its transcript and work
    first = item.data["claude"]
    assert (item.status, item.waiting_reason) == (Status.WAITING, "user_returned")
    assert first["resume_session_id"] == item.session_id
    assert Path(first["transcript_path"]).is_file()
    assert branch_files(h.project, item.branch)["half.txt"] == "half\n"
    assert not group_alive(first["pid"])

    # When it is dispatched again later and the model finishes the job
    fake.reset()
    fake.script(tool_use("Write", {"file_path": str(h.worktree(key) / "rest.txt"),
                                   "content": "rest\n"}), text("both halves written"))
    h.repo.on_record.clear()
    h.last_active.unlink()
    later = datetime.now(UTC) + timedelta(minutes=5)
    outcome, item = h.execute(h.claim_execute(item_id, now=later))

    # Then the same session was resumed (--resume), with its earlier conversation
    second = item.data["claude"]
    assert second["resumed"] is True and second["session_id"] == first["session_id"]
    assert item.session_id == first["session_id"] and second["resume_session_id"] is None
    sent = json.dumps(fake.messages[0]["messages"])
    assert "Write two halves" in sent and "Continue where you left off" in sent
    assert item.status is Status.QUEUED and second["result"] == "both halves written"
    files = branch_files(h.project, item.branch)
    assert (files["half.txt"], files["rest.txt"]) == ("half\n", "rest\n")


@needs_cli
def test_a_resume_whose_transcript_is_gone_starts_a_new_session(h, fake):
    fake.script(text("done afresh"))
    lost = "00000000-0000-4000-8000-000000000000"

    outcome, item = h.run("lost-transcript", "Carry on", claude={"resume_session_id": lost})

    session = item.data["claude"]
    assert item.status is Status.QUEUED and session["outcome"] == "ok"
    assert session["resumed"] is False and item.session_id not in (None, lost)
    assert h.repo.tier_breakers() == []


# --- acceptance 5: one session at a time ----------------------------------------------------


@needs_cli
def test_two_sessions_started_together_never_overlap(h, fake):
    # Given two items executing at once (as an embedded worker's threads would run them)
    fake.default = slow(text("done"), 1.0)
    claims = [h.claim_execute(h.add_item(f"par-{n}", f"Parallel item {n}")) for n in (1, 2)]
    results: dict[int, WorkItem] = {}

    def run(claim: Claim) -> None:
        results[claim.item.id] = h.execute(claim)[1]

    threads = [threading.Thread(target=run, args=(c,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # Then both finished, one strictly after the other
    spans = sorted((datetime.fromisoformat(i.data["claude"]["started_at"]),
                    datetime.fromisoformat(i.data["claude"]["ended_at"]))
                   for i in results.values())
    assert len(spans) == 2 and all(i.status is Status.QUEUED for i in results.values())
    assert spans[0][1] <= spans[1][0]


# --- acceptance 6: a CLI that cannot run ---------------------------------------------------


@pytest.mark.parametrize("broken", ["missing", "fails"])
def test_a_cli_that_cannot_run_is_a_crash_and_the_tiers_other_items_wait(h, broken):
    if broken == "missing":
        binary = h.tmp / "no-such-claude"
        why = f"the claude CLI {binary} does not exist or is not executable"
    else:
        binary = h.tmp / "claude"
        binary.write_text("#!/bin/sh\necho 'claude: cannot load its runtime' >&2\nexit 3\n")
        binary.chmod(0o755)
        why = "exited 3 before its first event: claude: cannot load its runtime"
    config = replace(h.config, bin=str(binary), breaker_cooldown_seconds=300)

    first_outcome, first = h.run("first-victim", "First item", config=config)
    second_outcome, second = h.run("second-item", "Second item", config=config)

    assert (first.status, first.failure_class) == (Status.FAILED, "crash")
    assert why in first_outcome.message
    assert (second.status, second.waiting_reason) == (Status.WAITING, "tier_broken")
    assert 200 < second_outcome.retry_after_seconds <= 300
    [breaker] = h.repo.tier_breakers()
    assert breaker.tier == "claude_session" and why in breaker.reason
    assert "second-item" not in git(h.project, "branch", "--list")


# --- the process group, whatever the CLI does ---------------------------------------------


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-claude"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_a_session_deaf_to_sigint_and_sigterm_is_killed(tmp_path):
    # Given a CLI (and its tool process) that ignore SIGINT and SIGTERM
    spec = SessionSpec(argv=[_script(tmp_path, "trap '' INT TERM\nsleep 60 &\nwait\n")],
                       cwd=tmp_path, env={"PATH": os.defpath}, prompt="", max_seconds=0.3,
                       stop_grace_seconds=0.3)

    run = run_session(spec)

    assert (run.stopped, run.stop_signal) == (Stop.TIMEOUT, "SIGKILL")
    assert not group_alive(run.pid)


def test_a_session_whose_item_was_taken_away_is_stopped(tmp_path):
    spec = SessionSpec(argv=[_script(tmp_path, "sleep 60\n")], cwd=tmp_path,
                       env={"PATH": os.defpath}, prompt="", max_seconds=60,
                       progress_seconds=0.2)
    calls: list[str] = []

    run = run_session(spec, lambda progress, run, state: calls.append(state) or len(calls) < 2)

    assert run.stopped is Stop.LOST and calls == ["running", "running"]
    assert classify_session(run, max_seconds=60).outcome is SessionOutcome.LOST
    assert not group_alive(run.pid) and run.seconds < 10


def test_the_slot_admits_one_session_and_reaps_a_dead_holders_cli(tmp_path):
    # Given a CLI left running by a worker that died while holding the slot
    lock = tmp_path / "claude" / "session.lock"
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    with session_slot(lock, wait_seconds=1) as marker:
        marker.set(orphan.pid, "/bin/sleep")
        marker.path.rename(tmp_path / "kept")  # the dead worker never cleared its note
    (tmp_path / "kept").rename(lock.with_suffix(".running"))
    waits: list[int] = []

    # When the next session takes the slot, while a third one tries at the same time
    with session_slot(lock, wait_seconds=1):
        orphan.wait(5)
        with pytest.raises(SlotBusy), session_slot(lock, wait_seconds=0.3,
                                                   on_wait=lambda: waits.append(1)):
            pass

    # Then the orphaned CLI was killed, and the third session waited, then gave up
    assert orphan.returncode == -signal.SIGKILL
    assert waits


# --- the store's session queries, on SQLite and Postgres -----------------------------------


def test_progress_and_heartbeats_apply_only_to_the_executing_attempt(tmp_path, store):
    h = Harness(tmp_path, store, None)
    claim = h.claim_execute(h.add_item("prog", "Progress"))
    now = datetime.now(UTC)

    assert store.record_session(claim.item.id, claim.item.attempt,
                                {"session_id": "s-1", "turns": 3}, session_id="s-1",
                                lease_seconds=900, now=now)
    item = store.get_item(claim.item.id)
    assert item.session_id == "s-1" and item.data["claude"] == {"session_id": "s-1", "turns": 3}
    assert item.data["title"] == "Progress"  # merged, not replaced
    assert abs((item.lease_until - now).total_seconds() - 900) < 1
    assert store.heartbeat(claim.item.id, claim.item.attempt, lease_seconds=1800, now=now)
    assert not store.heartbeat(claim.item.id, claim.item.attempt + 1, lease_seconds=5)
    store.finish_stage(claim, Outcome(Status.FAILED, "failed", "x", failure_class="crash"),
                       max_review_rounds=3, lease_seconds=60)
    assert not store.record_session(claim.item.id, claim.item.attempt, {"turns": 4},
                                    lease_seconds=60)
    assert store.get_item(claim.item.id).data["claude"]["turns"] == 3


def test_tier_breaker_opens_backs_off_and_closes(store):
    first = store.open_breaker("claude_session", "cli missing", cooldown_seconds=60, now=T0)
    second = store.open_breaker("claude_session", "still missing", cooldown_seconds=60, now=T0)

    assert first.open_until == T0 + timedelta(seconds=60)
    assert (second.failures, second.open_until) == (2, T0 + timedelta(seconds=120))
    assert store.open_tier_breaker("claude_session", now=T0).reason == "still missing"
    assert store.open_tier_breaker("claude_session", now=T0 + timedelta(seconds=121)) is None
    assert store.open_tier_breaker("vario", now=T0) is None
    assert store.close_breaker("claude_session") and store.tier_breakers() == []


def test_migration_matches_the_tier_breakers_table(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), tier_breakers.metadata)

    assert [d for d in diff if "tier_breakers" in repr(d)] == []


def test_prompt_carries_the_item_plan_and_review_feedback(tmp_path, sqlite_url):
    engine = make_engine(sqlite_url)
    h = Harness(tmp_path, Repo(engine), None)
    item = h.repo.get_item(h.add_item("prompted", "--dangerously-skip-permissions now",
                                      description="details", scope=["src/", "docs/"]))
    engine.dispose()
    item = replace(item, review_rounds=1, data={
        **item.data, "classify": {"plan": ["edit src/a.py"]},
        "review": {"verdict": "needs_work", "reasons": ["tests still fail"]}})

    prompt = build_prompt(item, branch="helmq/prompted")

    for part in ("Task: --dangerously-skip-permissions now", "details", "- src/", "- docs/",
                 "- edit src/a.py", "round 2", "- tests still fail", "helmq/prompted"):
        assert part in prompt
    argv = cli_argv("claude", ClaudeConfig(config_dir=tmp_path),
                    ClaudeConfig(config_dir=tmp_path).limits_for({}), session_id="s",
                    resume=False, user_repo=tmp_path)
    assert not any("dangerously" in a for a in argv)
