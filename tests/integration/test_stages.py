"""The stages end to end without Celery: scan a real git repo, dispatch, run_stage each step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from helmq.checks import registry
from helmq.checks.registry import FixResult, Problem, register
from helmq.config.jobs import load_jobs
from helmq.config.settings import Settings
from helmq.control.dispatch import dispatch_tick
from helmq.control.scan import scan_jobs
from helmq.discovery.doc_health import SOURCE as DOC_HEALTH
from helmq.discovery.doc_health import doc_health
from helmq.discovery.registry import STRATEGIES
from helmq.domain.item import Handoff, WorkItem
from helmq.domain.jobs import JobsConfig
from helmq.domain.model import Stage, Status, Tier
from helmq.repos.worktree import prepare_worktree
from helmq.stages.review import _tick_source
from helmq.stages.runner import run_stage
from helmq.store.repository import Repository
from helmq.tiers.context import StageContext
from tests.conftest import git, make_git_repo, tree_snapshot

LINKS_TODO = "- [ ] Fix broken links in docs"
RUST_TODO = "- [ ] Rewrite the parser in Rust"
NEXT = {Stage.CLASSIFY: Stage.EXECUTE, Stage.EXECUTE: Stage.REVIEW}


class Env:
    """A user's project, helmq's state outside it, and the default jobs."""

    def __init__(self, repo: Repository, db_url: str, tmp_path: Path) -> None:
        state = tmp_path / "state"
        self.repo = repo
        self.settings = Settings(
            state_dir=state, database_url=db_url, broker_url="memory://", config_path=None,
            last_active_path=tmp_path / "last_active.json",
        )
        self.ctx = StageContext(worktrees_dir=state / "worktrees", reports_dir=state / "reports",
                                llm_credentials=False)
        default = load_jobs(None, strategies=STRATEGIES)
        # The maintenance job alone: doc_health has tests of its own.
        self.jobs: JobsConfig = replace(default, jobs={
            "codebase_maintenance": default.jobs["codebase_maintenance"]})
        self.project = tmp_path / "project"

    def make_project(self, files: dict[str, str]) -> Path:
        return make_git_repo(self.project, files)

    def scan_and_dispatch(self) -> dict[str, Handoff]:
        """Discover the project's items and dispatch them all; handoffs by item title."""
        [scanned] = scan_jobs(self.repo, self.jobs, repos=[self.project])
        assert scanned.counts.new >= 1, scanned
        tick = dispatch_tick(self.repo, self.jobs, self.settings, ignore_idle=True)
        assert all(d.stage is Stage.CLASSIFY for d in tick.dispatched)
        return {self.repo.get_item(d.handoff["item"]).title: d.handoff for d in tick.dispatched}

    def step(self, stage: Stage, handoff: Handoff):
        return run_stage(self.repo, self.settings, self.ctx, stage, handoff)

    def run_chain(self, handoff: Handoff, max_steps: int = 20) -> list[Stage]:
        """Run stages as the chain would, following next and rework, until it settles."""
        todo, ran = [(Stage.CLASSIFY, handoff)], []
        while todo:
            assert len(ran) < max_steps, f"chain did not settle: {ran}"
            stage, h = todo.pop(0)
            step = self.step(stage, h)
            ran.append(stage)
            if step.next is not None:
                todo.append((NEXT[stage], step.next))
            if step.rework is not None:
                todo.append((step.rework.stage, step.rework.handoff))
        return ran

    def item(self, handoff: Handoff) -> WorkItem:
        item = self.repo.get_item(handoff["item"])
        assert item is not None
        return item


@pytest.fixture
def env(repo: Repository, db_url: str, tmp_path: Path) -> Env:
    return Env(repo, db_url, tmp_path)


def assert_user_tree_untouched(project: Path, before: dict[str, bytes]) -> None:
    assert tree_snapshot(project) == before
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_links_item_is_fixed_on_its_branch_and_the_rust_item_waits(env: Env) -> None:
    # Given a project whose docs link to a file that moved, and two TODO items
    project = env.make_project({
        "TODO.md": f"# TODO\n\n{LINKS_TODO}\n{RUST_TODO}\n",
        "docs/index.md": "# Docs\n\nSee [setup](setup.md) to install.\n",
        "docs/guide/setup.md": "# Setup\n\nRun it.\n",
    })
    before = tree_snapshot(project)

    # When helmq scans and dispatches them
    handoffs = env.scan_and_dispatch()
    assert set(handoffs) == {"Fix broken links in docs", "Rewrite the parser in Rust"}
    links, rust = handoffs["Fix broken links in docs"], handoffs["Rewrite the parser in Rust"]

    # And runs classify, execute and review for the links item with the handoffs they return
    classified = env.step(Stage.CLASSIFY, links)
    assert classified.next == {"item": links["item"], "attempt": links["attempt"],
                               "tier": "script"}
    assert env.item(links).status is Status.QUEUED
    executed = env.step(Stage.EXECUTE, classified.next)
    assert executed.next is not None and executed.rework is None
    assert env.item(links).status is Status.QUEUED
    reviewed = env.step(Stage.REVIEW, executed.next)
    assert reviewed.next is None and reviewed.rework is None

    # Then the item is done, with the fixed link and the ticked TODO on its branch
    item = env.item(links)
    assert (item.status, item.tier, item.failure_class) == (Status.DONE, Tier.SCRIPT, None)
    assert item.branch == f"helmq/{item.item_key}"
    assert item.last_completed is not None
    assert item.data["execute"]["fixed"] == 1
    assert item.data["review"]["verdict"] == "accept"
    index = git(project, "show", f"{item.branch}:docs/index.md")
    assert "[setup](guide/setup.md)" in index
    todo = git(project, "show", f"{item.branch}:TODO.md")
    assert "- [x] Fix broken links in docs\n" in todo
    assert RUST_TODO in todo
    # And the branch changed exactly those two files
    base = git(project, "merge-base", "main", item.branch).strip()
    assert git(project, "diff", "--name-only", base, item.branch).split() == [
        "TODO.md", "docs/index.md"]

    # And the user's checkout is untouched, on main, clean
    assert_user_tree_untouched(project, before)

    # And a report tells what was fixed
    report = Path(item.report_path)
    assert report.is_file() and report.parent == env.ctx.reports_dir
    text = report.read_text(encoding="utf-8")
    assert "accept" in text and "links" in text and "guide/setup.md" in text

    # And every stage left its transitions and its run
    transitions = [(e["from_status"], e["to_status"], e["stage"])
                   for e in env.repo.item_events(item.id)]
    assert transitions == [
        (None, "pending", None),
        ("pending", "queued", "classify"),
        ("queued", "classifying", "classify"),
        ("classifying", "queued", "classify"),
        ("queued", "executing", "execute"),
        ("executing", "queued", "execute"),
        ("queued", "reviewing", "review"),
        ("reviewing", "done", "review"),
    ]
    runs = env.repo.item_stage_runs(item.id)
    assert [(r["stage"], r["outcome"]) for r in runs] == [
        ("classify", "ok"), ("execute", "ok"), ("review", "accepted")]
    assert all(r["finished_at"] is not None for r in runs)

    # And the Rust item, which no rule places, waits for credentials, with no tier yet
    assert env.step(Stage.CLASSIFY, rust).next is None
    waiting = env.item(rust)
    assert (waiting.status, waiting.waiting_reason, waiting.tier) == (
        Status.WAITING, "no_credentials", None)
    assert waiting.lease_until is not None
    assert [r["outcome"] for r in env.repo.item_stage_runs(waiting.id)] == ["waiting"]
    assert waiting.branch is None
    assert_user_tree_untouched(project, before)


def test_a_replayed_handoff_changes_nothing(env: Env) -> None:
    # Given an item that ran its whole chain
    env.make_project({
        "TODO.md": f"{LINKS_TODO}\n",
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    [links] = env.scan_and_dispatch().values()
    executed = env.step(Stage.EXECUTE, env.step(Stage.CLASSIFY, links).next)
    env.step(Stage.REVIEW, executed.next)
    item = env.item(links)
    assert item.status is Status.DONE
    runs, events = env.repo.item_stage_runs(item.id), env.repo.item_events(item.id)

    # When the broker delivers each message again
    replays = [env.step(Stage.CLASSIFY, links), env.step(Stage.EXECUTE, links),
               env.step(Stage.REVIEW, executed.next)]

    # Then each finds no row: no next step, no new run, no new event, the same item
    assert all(r.next is None and r.rework is None for r in replays)
    assert env.repo.item_stage_runs(item.id) == runs
    assert env.repo.item_events(item.id) == events
    assert env.item(links) == item


def test_an_unknown_check_fails_the_item(env: Env) -> None:
    env.make_project({"TODO.md": "- [ ] Tidy the configuration check:nosuch\n"})
    [handoff] = env.scan_and_dispatch().values()
    assert env.item(handoff).data["check"] == "nosuch"

    assert env.run_chain(handoff) == [Stage.CLASSIFY]

    item = env.item(handoff)
    assert (item.status, item.failure_class) == (Status.FAILED, "unknown_check")
    [run] = env.repo.item_stage_runs(item.id)
    assert (run["outcome"], run["error_class"]) == ("failed", "unknown_check")
    assert "nosuch" in run["error"]


def test_an_unfixable_link_fails_within_the_review_rounds(env: Env) -> None:
    # Given one link the fixer can repair and one whose target exists nowhere
    project = env.make_project({
        "TODO.md": f"{LINKS_TODO}\n",
        "docs/index.md": "[setup](setup.md) and [gone](nowhere.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    before = tree_snapshot(project)
    [handoff] = env.scan_and_dispatch().values()

    # When its chain runs until it settles
    ran = env.run_chain(handoff)

    # Then review sent it back once, and the second round gave up as unfixable
    item = env.item(handoff)
    assert (item.status, item.failure_class) == (Status.FAILED, "unfixable")
    reviews = [r for r in env.repo.item_stage_runs(item.id) if r["stage"] == "review"]
    assert [r["outcome"] for r in reviews] == ["needs_work", "failed"]
    assert len(reviews) <= env.settings.max_review_rounds
    assert ran == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW, Stage.EXECUTE, Stage.REVIEW]
    assert "nowhere.md" in item.data["review"]["reasons"][0]
    # Nothing was ticked done, and the user's tree is untouched
    assert LINKS_TODO in git(project, "show", f"helmq/{item.item_key}:TODO.md")
    assert_user_tree_untouched(project, before)


class ScopeCreepCheck:
    """Removes FIXME from docs/index.md, and also edits a file it has no business with."""

    name = "scopecreep"
    keywords = ("scope creep",)
    needs_worktree = True

    def detect(self, root: Path) -> list[Problem]:
        index = root / "docs" / "index.md"
        if "FIXME" in index.read_text(encoding="utf-8"):
            return [Problem(file="docs/index.md", line=1, message="FIXME left")]
        return []

    def fix(self, root: Path) -> FixResult:
        index = root / "docs" / "index.md"
        index.write_text(index.read_text(encoding="utf-8").replace("FIXME", "done"))
        (root / "setup.cfg").write_text("[tool]\nchanged = yes\n", encoding="utf-8")
        return FixResult(fixed=1, unfixed=[], notes=["removed FIXME"])

    def scope(self, problems) -> set[str] | None:
        return {p.file for p in problems}


@pytest.fixture
def scope_creep() -> Iterator[None]:
    saved = dict(registry._CHECKS)
    register(ScopeCreepCheck())
    yield
    registry._CHECKS.clear()
    registry._CHECKS.update(saved)


@pytest.mark.usefixtures("scope_creep")
def test_a_fix_outside_its_scope_is_rejected(env: Env) -> None:
    project = env.make_project({
        "TODO.md": "- [ ] Clean the index check:scopecreep\n",
        "docs/index.md": "# Docs FIXME\n",
        "setup.cfg": "[tool]\n",
    })
    before = tree_snapshot(project)
    [handoff] = env.scan_and_dispatch().values()

    ran = env.run_chain(handoff)

    item = env.item(handoff)
    assert ran == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW]
    assert (item.status, item.failure_class) == (Status.FAILED, "out_of_scope")
    assert item.data["execute"]["scope"] == ["docs/index.md"]
    assert "setup.cfg" in item.data["review"]["reasons"][0]
    assert "docs/index.md" not in item.data["review"]["reasons"][0]
    assert [r["outcome"] for r in env.repo.item_stage_runs(item.id)] == ["ok", "ok", "failed"]
    assert_user_tree_untouched(project, before)


def test_a_recurring_item_runs_again_on_the_users_current_code(env: Env) -> None:
    # Given a daily links item whose first run fixed a moved link on its branch
    project = env.make_project({
        "TODO.md": f"{LINKS_TODO} @daily\n",
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
        "docs/ref/api.md": "# API\n",
    })
    [handoff] = env.scan_and_dispatch().values()
    env.run_chain(handoff)
    first = env.item(handoff)
    assert (first.status, first.data["execute"]["fixed"]) == (Status.DONE, 1)
    day_one = git(project, "rev-parse", first.branch).strip()

    # And the user, without merging it, committed a new broken link the next day
    (project / "docs" / "usage.md").write_text("Read [the API](api.md).\n", encoding="utf-8")
    git(project, "add", "docs/usage.md")
    git(project, "commit", "-q", "-m", "usage")
    head = git(project, "rev-parse", "HEAD").strip()
    before = tree_snapshot(project)

    # When the item is due again and its chain runs
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    tick = dispatch_tick(env.repo, env.jobs, env.settings, ignore_idle=True, now=later)
    [again] = [d.handoff for d in tick.dispatched]
    assert again["item"] == handoff["item"]
    assert env.run_chain(again) == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW]

    # Then it worked on a branch made from the new HEAD, fixed both links there, and is done
    item = env.item(again)
    assert (item.status, item.failure_class) == (Status.DONE, None)
    assert item.data["execute"]["base_commit"] == head
    assert item.data["execute"]["fixed"] == 2
    assert git(project, "merge-base", head, item.branch).strip() == head
    assert "[the API](ref/api.md)" in git(project, "show", f"{item.branch}:docs/usage.md")
    assert "[setup](guide/setup.md)" in git(project, "show", f"{item.branch}:docs/index.md")
    assert git(project, "diff", "--name-only", head, item.branch).split() == [
        "docs/index.md", "docs/usage.md"]
    # And day one's unmerged fix is kept under a name of its own
    kept = f"{first.branch}-prev-{day_one[:8]}"
    assert git(project, "rev-parse", f"refs/heads/{kept}").strip() == day_one
    assert_user_tree_untouched(project, before)


def test_review_never_ticks_a_todo_file_outside_the_worktree(env: Env, tmp_path: Path) -> None:
    # Given a tracked TODO.md that is a symlink to a file outside the repository
    outside = tmp_path / "outside" / "TODO.md"
    outside.parent.mkdir()
    outside.write_text(f"{LINKS_TODO}\n", encoding="utf-8")
    project = env.make_project({
        "docs/index.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
    })
    (project / "TODO.md").symlink_to(outside)
    git(project, "add", "TODO.md")
    git(project, "commit", "-q", "-m", "todo")
    before = outside.read_bytes()
    [handoff] = env.scan_and_dispatch().values()

    # When its chain runs
    env.run_chain(handoff)

    # Then the link is fixed and accepted, but the file outside is byte for byte the same
    item = env.item(handoff)
    assert item.status is Status.DONE
    assert outside.read_bytes() == before
    assert "[setup](guide/setup.md)" in git(project, "show", f"{item.branch}:docs/index.md")
    reasons = item.data["review"]["reasons"]
    assert any(r.startswith("not ticked: TODO.md") for r in reasons), reasons


@pytest.mark.parametrize(
    "source", ["{outside}", "../outside/TODO.md", "docs/../../outside/TODO.md"])
def test_a_source_file_leading_out_of_the_worktree_is_not_ticked(env: Env, source: str) -> None:
    # Given an item whose recorded source file names a path outside its worktree
    env.make_project({"TODO.md": f"{LINKS_TODO}\n", "docs/index.md": "# Docs\n"})
    [handoff] = env.scan_and_dispatch().values()
    wt = prepare_worktree(env.project, env.ctx.worktrees_dir, env.item(handoff).item_key)
    outside = wt.path.parent / "outside" / "TODO.md"
    outside.parent.mkdir()
    outside.write_text(f"{LINKS_TODO}\n", encoding="utf-8")
    item = replace(env.item(handoff), source_file=source.format(outside=outside))

    # When review ticks it, nothing outside changes and the reason says so
    assert _tick_source(item, wt) == (
        None, f"not ticked: {item.source_file} is a symlink or leads outside the worktree")
    assert outside.read_text(encoding="utf-8") == f"{LINKS_TODO}\n"


class TimedOutCheck:
    """A check whose fixer is interrupted by Celery's soft time limit."""

    name = "timedout"
    keywords = ("time out check",)
    needs_worktree = True

    def detect(self, root: Path) -> list[Problem]:
        return [Problem("x", 1, "always", {})]

    def fix(self, root: Path) -> FixResult:
        from celery.exceptions import SoftTimeLimitExceeded

        raise SoftTimeLimitExceeded()

    def scope(self, problems) -> set[str] | None:
        return set()


def test_a_stage_past_its_soft_time_limit_fails_as_timeout(env: Env) -> None:
    saved = dict(registry._CHECKS)
    register(TimedOutCheck())
    try:
        env.make_project({"TODO.md": "- [ ] Slow work check:timedout\n"})
        [handoff] = env.scan_and_dispatch().values()
        assert env.run_chain(handoff) == [Stage.CLASSIFY, Stage.EXECUTE]
    finally:
        registry._CHECKS.clear()
        registry._CHECKS.update(saved)
    item = env.item(handoff)
    assert (item.status, item.failure_class) == (Status.FAILED, "timeout")
    assert env.repo.item_stage_runs(item.id)[-1]["outcome"] == "timeout"


# --- doc_health items: one problem each ---------------------------------------------------


def dispatch_doc_health(env: Env) -> dict[str, Handoff]:
    """Record doc_health's findings in the project (as a scan of its job would) and dispatch
    them; handoffs by item title."""
    result = doc_health([env.project])
    assert result.scanned == [str(env.project.resolve())]
    env.repo.upsert_findings("codebase_maintenance", result.findings, sources={DOC_HEALTH},
                             repos=result.scanned)
    tick = dispatch_tick(env.repo, env.jobs, env.settings, ignore_idle=True)
    return {env.repo.get_item(d.handoff["item"]).title: d.handoff for d in tick.dispatched}


def helmq_branches(project: Path) -> list[str]:
    return git(project, "branch", "--list", "helmq/*", "--format=%(refname:short)").split()


def test_a_doc_health_link_item_fixes_its_own_link_and_no_other(env: Env) -> None:
    # Given a page with two links whose targets moved
    project = env.make_project({
        "docs/index.md": "# Docs\n\n[setup](setup.md) and [the API](api.md)\n",
        "docs/guide/setup.md": "# Setup\n",
        "docs/ref/api.md": "# API\n",
    })
    before = tree_snapshot(project)
    handoffs = dispatch_doc_health(env)
    assert set(handoffs) == {"Broken link in docs/index.md: setup.md",
                             "Broken link in docs/index.md: api.md"}

    # When the chain of the setup link's item runs
    setup = handoffs["Broken link in docs/index.md: setup.md"]
    assert env.run_chain(setup) == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW]

    # Then its branch fixes that link only, and review accepted it
    item = env.item(setup)
    assert (item.status, item.tier, item.data["classify"]["check"]) == (
        Status.DONE, Tier.SCRIPT, "links")
    done = item.data["execute"]
    assert (done["problems"], done["fixed"], done["scope"]) == (1, 1, ["docs/index.md"])
    assert item.data["review"]["verdict"] == "accept"
    assert git(project, "show", f"{item.branch}:docs/index.md") == (
        "# Docs\n\n[setup](guide/setup.md) and [the API](api.md)\n")
    base = item.data["execute"]["base_commit"]
    assert git(project, "diff", "--name-only", base, item.branch).split() == ["docs/index.md"]
    assert_user_tree_untouched(project, before)

    # And the other link's item gets a branch of its own with just its link fixed
    api = handoffs["Broken link in docs/index.md: api.md"]
    env.run_chain(api)
    other = env.item(api)
    assert other.status is Status.DONE and other.branch != item.branch
    assert git(project, "show", f"{other.branch}:docs/index.md") == (
        "# Docs\n\n[setup](setup.md) and [the API](ref/api.md)\n")
    assert_user_tree_untouched(project, before)


def test_a_doc_health_link_nothing_can_fix_is_reported_to_a_person(env: Env) -> None:
    env.make_project({"README.md": "[gone](nowhere.md) and [setup](setup.md)\n",
                      "docs/setup.md": "# Setup\n"})
    handoffs = dispatch_doc_health(env)
    gone = handoffs["Broken link in README.md: nowhere.md"]

    assert env.run_chain(gone) == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW]

    # Done at once (no second round, no failure): a report tells a person what is left
    item = env.item(gone)
    assert (item.status, item.failure_class, item.review_rounds) == (Status.DONE, None, 0)
    assert item.data["execute"]["notes"] == ["README.md:1: left nowhere.md: no file has its name"]
    assert item.data["review"]["verdict"] == "reported"
    report = Path(item.report_path).read_text()
    assert "README.md:1" in report and "nowhere.md" in report
    # The other link on the same line was not this item's business
    assert "setup.md" not in report


REPORT_PROJECT = {
    "README.md": "# App\n\nRun it, then open http://localhost:8000.\n\nSet `APP_SECRET`.\n",
    "docker-compose.yml": "services:\n  web:\n    ports:\n      - \"8080:8080\"\n",
    "app.py": "import os\n\nSECRET = os.environ['APP_SECRET']\nTOKEN = os.getenv('APP_TOKEN')\n",
    "deploy/prod.env": "APP_PASSWORD=hunter2-do-not-print\n",
}


def test_report_only_items_are_done_with_a_report_and_no_branch(env: Env) -> None:
    # Given a README whose port drifted from compose, and code reading an undocumented variable
    project = env.make_project(REPORT_PROJECT)
    before = tree_snapshot(project)
    handoffs = dispatch_doc_health(env)
    port_title = "Port 8000 in README.md is used by no config"
    env_title = "Undocumented env var APP_TOKEN (read in app.py)"
    assert set(handoffs) == {port_title, env_title}

    for title, where in [(port_title, "README.md:3"), (env_title, "app.py:4")]:
        # When each item's chain runs
        assert env.run_chain(handoffs[title]) == [Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW]

        # Then it is done as reported, with no branch, and its report says what and where
        item = env.item(handoffs[title])
        assert (item.status, item.failure_class, item.branch) == (Status.DONE, None, None)
        assert item.data["execute"]["reports_only"] is True
        assert item.data["review"]["verdict"] == "reported"
        assert [r["outcome"] for r in env.repo.item_stage_runs(item.id)] == [
            "ok", "ok", "reported"]
        report = Path(item.report_path).read_text(encoding="utf-8")
        assert "## To settle by hand" in report
        assert f"- `{where}`: {item.data['description']}" in report
        # And no value of any env file is in it
        assert "hunter2" not in report and "hunter2" not in str(item.data)

    port_report = Path(env.item(handoffs[port_title]).report_path).read_text(encoding="utf-8")
    assert "the config publishes 8080 (docker-compose.yml)" in port_report
    assert "config ports: 8080" in port_report
    assert helmq_branches(project) == []
    assert_user_tree_untouched(project, before)


def test_a_report_only_item_the_user_settled_meanwhile_is_accepted(env: Env) -> None:
    # Given a port item, and the user then fixing the README before it runs
    project = env.make_project(REPORT_PROJECT)
    handoffs = dispatch_doc_health(env)
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("8000", "8080"),
                      encoding="utf-8")
    git(project, "commit", "-qam", "right port")

    env.run_chain(handoffs["Port 8000 in README.md is used by no config"])

    item = env.item(handoffs["Port 8000 in README.md is used by no config"])
    assert item.status is Status.DONE
    assert item.data["review"] == {"verdict": "accept", "reasons": ["ports no longer fires"]}
    assert item.data["execute"]["problems"] == 0


def test_a_todo_item_for_a_report_only_check_reports_every_problem(env: Env) -> None:
    # Given a TODO item that asks for the whole env var check, not one problem
    project = env.make_project({**REPORT_PROJECT,
                                "TODO.md": "- [ ] Review env vars check:env_vars\n"})
    [handoff] = env.scan_and_dispatch().values()

    env.run_chain(handoff)

    item = env.item(handoff)
    assert (item.status, item.data["review"]["verdict"]) == (Status.DONE, "reported")
    assert item.data["execute"]["problems"] == 1
    assert "APP_TOKEN" in Path(item.report_path).read_text(encoding="utf-8")
    assert helmq_branches(project) == []


def jobs_with_stages(env: Env, *stages: str) -> None:
    """The maintenance job with only `stages`, as jobs.yaml's `stages:` would list them."""
    job = replace(env.jobs.jobs["codebase_maintenance"], stages=stages)
    env.jobs = replace(env.jobs, jobs={"codebase_maintenance": job})
    env.ctx = replace(env.ctx, jobs=env.jobs)


def test_a_job_without_review_is_done_after_execute(env: Env) -> None:
    # Given a job that lists classify and execute only, and a link to fix
    jobs_with_stages(env, "classify", "execute")
    env.make_project({"TODO.md": f"# TODO\n\n{LINKS_TODO}\n",
                      "docs/index.md": "# Docs\n\nSee [setup](setup.md) to install.\n",
                      "docs/guide/setup.md": "# Setup\n"})
    links = env.scan_and_dispatch()["Fix broken links in docs"]

    # When classify and execute run
    executed = env.step(Stage.EXECUTE, env.step(Stage.CLASSIFY, links).next)

    # Then the chain ends there: the item is done with its fix, and no review ran
    assert executed.next is None
    item = env.item(links)
    assert (item.status, item.data["execute"]["fixed"]) == (Status.DONE, 1)
    assert "review" not in item.data
    assert "has no review stage" in env.repo.item_events(item.id)[-1]["message"]


def test_a_job_without_classify_is_dispatched_to_execute(env: Env) -> None:
    # Given a job that skips classify
    jobs_with_stages(env, "execute", "review")
    env.make_project({"TODO.md": f"# TODO\n\n{RUST_TODO}\n"})
    scan_jobs(env.repo, env.jobs, repos=[env.project])

    # When it is dispatched, then its chain starts at execute
    tick = dispatch_tick(env.repo, env.jobs, env.settings, ignore_idle=True)
    assert [d.stage for d in tick.dispatched] == [Stage.EXECUTE]
    assert env.item(tick.dispatched[0].handoff).stage is Stage.EXECUTE


def test_a_chain_has_exactly_the_stages_its_job_lists() -> None:
    from celery import Celery

    from helmq.store.repository import Dispatch
    from tasks.chains import chain_for

    app = Celery("t", broker="memory://")
    handoff = Handoff(item=1, attempt=1, tier=None)

    def names(stage: Stage, stages: tuple[str, ...]) -> list[str]:
        sig = chain_for(app, Dispatch(handoff, stage, "j"), stages)
        return [t.task for t in getattr(sig, "tasks", [sig])]

    assert names(Stage.CLASSIFY, ("classify", "execute", "review")) == [
        "helmq.classify", "helmq.execute", "helmq.review"]
    assert names(Stage.EXECUTE, ("execute", "review")) == ["helmq.execute", "helmq.review"]
    assert names(Stage.CLASSIFY, ("classify", "execute")) == ["helmq.classify", "helmq.execute"]
    assert names(Stage.EXECUTE, ("execute",)) == ["helmq.execute"]
    # a rework round goes back to execute, and on to review when the job lists it
    assert names(Stage.EXECUTE, ("classify", "execute", "review")) == [
        "helmq.execute", "helmq.review"]


def test_without_classify_an_item_runs_on_the_tier_and_check_it_is_tagged_with(env: Env) -> None:
    # Given a job that skips classify, and a TODO item that names its tier and check
    jobs_with_stages(env, "execute", "review")
    project = env.make_project({
        "TODO.md": "# TODO\n\n- [ ] Mend the docs tier:script check:links\n",
        "docs/index.md": "# Docs\n\nSee [setup](setup.md) to install.\n",
        "docs/guide/setup.md": "# Setup\n"})
    scan_jobs(env.repo, env.jobs, repos=[env.project])
    [dispatched] = dispatch_tick(env.repo, env.jobs, env.settings, ignore_idle=True).dispatched

    # When execute and review run
    executed = env.step(Stage.EXECUTE, dispatched.handoff)
    reviewed = env.step(Stage.REVIEW, executed.next)

    # Then the links check fixed the link on the item's branch, and review accepted it
    assert reviewed.next is None
    item = env.item(dispatched.handoff)
    assert (item.status, item.data["execute"]["check"]) == (Status.DONE, "links")
    assert "[setup](guide/setup.md)" in git(project, "show", f"{item.branch}:docs/index.md")
