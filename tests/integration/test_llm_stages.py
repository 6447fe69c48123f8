"""The LLM tiers through the stages, the real anthropic SDK and the fake Messages API:
classification with its cache, llm_call edits on a branch, vario's vote, LLM review's rounds
and rejection, faults, budgets and costs. Each test runs on SQLite and Postgres."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic, json_reply, overloaded, rate_limited, text

from helmq.config.jobs import load_jobs
from helmq.config.settings import Settings
from helmq.control.dispatch import dispatch_tick
from helmq.control.scan import scan_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.item import Handoff, WorkItem
from helmq.domain.model import Stage, Status, Tier
from helmq.runtime import stage_context
from helmq.stages.runner import run_stage
from helmq.store.ledger import Ledger
from helmq.store.repository import Repository
from tests.conftest import git, make_git_repo, tree_snapshot, write

KEY = "sk-ant-test-SECRET-0123456789"
NEXT = {Stage.CLASSIFY: Stage.EXECUTE, Stage.EXECUTE: Stage.REVIEW}

CLASSIFY = "You classify maintenance work items"
EXECUTE = "You are a careful maintainer"
VARIO = "You are one of several independent reviewers"
REVIEW = "You review one change"

TITLE = "Explain the retry constant in app/net.py"
EDIT = {"path": "app/net.py", "search": "RETRIES = 3\n",
        "replace": "# Three tries ride out a server restart.\nRETRIES = 3\n"}


def classification(tier: str = "llm_call", risk: str = "low") -> dict:
    return {"tier": tier, "check": None, "type": "docs", "risk": risk, "effort": "S",
            "plan": "Add a comment above RETRIES in app/net.py saying why it is 3."}


def change(*edits: dict, summary: str = "comment the constant") -> dict:
    return {"summary": summary, "edits": list(edits), "report": None}


def verdict(kind: str, *reasons: str, feedback: str = "") -> dict:
    return {"verdict": kind, "reasons": list(reasons) or [kind], "feedback": feedback}


class World:
    """A user's project, helmq's state, a fake API and the stages wired to it."""

    def __init__(self, repo: Repository, db_url: str, tmp_path: Path, fake: FakeAnthropic, *,
                 daily_usd: float = 5.0, vario: str = "") -> None:
        self.repo, self.fake, self.tmp = repo, fake, tmp_path
        config = write(tmp_path / "jobs.yaml", f"""\
budget: {{daily_usd: {daily_usd:.6f}, per_item_usd: 2.0}}
{vario}
jobs:
  maint:
    internal: true
    discovery: {{strategy: autodo_scan}}
    eligibility: {{require_user_idle_minutes: 0, data_filter: {{risk: [low, null]}}}}
""")
        self.jobs = load_jobs(config, strategies=STRATEGIES)
        self.settings = Settings(
            state_dir=tmp_path / "state", database_url=db_url, broker_url="memory://",
            config_path=config, last_active_path=tmp_path / "last_active.json",
            anthropic_api_key=KEY, anthropic_base_url=fake.url, llm_backoff_base=0.001,
            models={"classify": "claude-haiku-4-5", "review": "claude-haiku-4-5",
                    "execute": "claude-sonnet-5-5", "vario": "claude-haiku-4-5"},
        )
        self.ctx = stage_context(self.settings, engine=repo.engine, jobs=self.jobs)
        self.project = make_git_repo(tmp_path / "project", {
            "TODO.md": f"- [ ] {TITLE}\n- [ ] Fix broken links in docs\n",
            "app/net.py": "RETRIES = 3\n",
            "docs/index.md": "# Docs\n",
        })
        self.before = tree_snapshot(self.project)

    def scan_and_dispatch(self) -> dict[str, Handoff]:
        scan_jobs(self.repo, self.jobs, repos=[self.project])
        tick = dispatch_tick(self.repo, self.jobs, self.settings, ignore_idle=True)
        return {self.repo.get_item(d.handoff["item"]).title: d.handoff for d in tick.dispatched}

    def run_chain(self, handoff: Handoff, max_steps: int = 20) -> list[tuple[Stage, str]]:
        """Run the chain as Celery would (next and rework), the stage and outcome of each."""
        todo, ran = [(Stage.CLASSIFY, handoff)], []
        while todo:
            assert len(ran) < max_steps, ran
            stage, h = todo.pop(0)
            step = run_stage(self.repo, self.settings, self.ctx, stage, h)
            ran.append((stage, self.repo.item_stage_runs(h["item"])[-1]["outcome"]))
            if step.next is not None:
                todo.append((NEXT[stage], step.next))
            if step.rework is not None:
                todo.append((step.rework.stage, step.rework.handoff))
        return ran

    def item(self, title: str = TITLE) -> WorkItem:
        [item] = [i for i in self.repo.list_items() if i.title == title]
        return item

    def calls(self, phrase: str) -> int:
        return sum(phrase in json.dumps(r.get("body", {}).get("system", ""))
                   for r in self.fake.requests if r.get("path", "").startswith("/v1/messages"))


@pytest.fixture
def fake(tmp_path: Path):
    with FakeAnthropic(tmp_path / "requests.jsonl") as server:
        yield server


@pytest.fixture
def world(repo: Repository, db_url: str, tmp_path: Path, fake: FakeAnthropic) -> World:
    return World(repo, db_url, tmp_path, fake)


def answer_all(fake: FakeAnthropic, *, tier: str = "llm_call") -> None:
    fake.when(contains=CLASSIFY, reply=json_reply(classification(tier)))
    fake.when(contains=VARIO, reply=json_reply({**change(EDIT), "verdict": "change",
                                                "reasons": "it helps"}))
    fake.when(contains=EXECUTE, reply=json_reply(change(EDIT)))
    fake.when(contains=REVIEW, reply=json_reply(verdict("accept", "the comment is right")))


def test_classify_asks_only_when_rules_miss_and_never_again(world: World):
    answer_all(world.fake)
    handoffs = world.scan_and_dispatch()
    # the links item is placed by the rules: no call
    world.run_chain(handoffs["Fix broken links in docs"])
    assert world.calls(CLASSIFY) == 0
    # the other one needs the model: one call, its answer kept with the item
    world.run_chain(handoffs[TITLE])
    assert world.calls(CLASSIFY) == 1
    item = world.item()
    found = item.data["classify"]
    assert (found["by"], found["tier"], item.tier) == ("llm", "llm_call", Tier.LLM_CALL)
    assert found["llm"]["plan"].startswith("Add a comment")
    assert item.filter_data["risk"] == "low" and item.data.get("risk") is None

    # a rescan, and a re-run of the same item, ask nothing
    scan_jobs(world.repo, world.jobs, repos=[world.project])
    again = world.repo.get_item(item.id)
    assert again.data["classify"]["llm"]["cache_key"] == found["llm"]["cache_key"]
    from helmq.stages.classify import classify
    outcome = classify(again, world.ctx)
    assert outcome.data["classify"]["by"] == "llm" and outcome.cost_usd == 0
    assert world.calls(CLASSIFY) == 1


def test_llm_call_edits_on_a_branch_and_review_accepts(world: World):
    answer_all(world.fake)
    handoffs = world.scan_and_dispatch()
    ran = world.run_chain(handoffs[TITLE])
    assert ran == [(Stage.CLASSIFY, "ok"), (Stage.EXECUTE, "ok"), (Stage.REVIEW, "accepted")]
    item = world.item()
    assert item.status is Status.DONE and item.branch == f"helmq/{item.item_key}"
    shown = git(world.project, "show", f"{item.branch}:app/net.py")
    assert shown == "# Three tries ride out a server restart.\nRETRIES = 3\n"
    assert f"- [x] {TITLE}" in git(world.project, "show", f"{item.branch}:TODO.md")
    # the user's tree is as it was
    assert tree_snapshot(world.project) == world.before
    assert git(world.project, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    # costs on the item, on each stage run, and in the ledger: the same total
    runs = world.repo.item_stage_runs(item.id)
    run_costs = [Decimal(str(r["cost_usd"] or 0)) for r in runs]
    assert all(c > 0 for c in run_costs)
    assert Decimal(str(item.cost_usd)) == pytest.approx(sum(run_costs))
    ledger = Ledger(world.repo.engine)
    charged = [Decimal(str(e["cost_usd"])) for e in ledger.entries(item_id=item.id)]
    assert sum(charged) == pytest.approx(sum(run_costs))
    assert item.data["review"]["verdict"] == "accept"
    report = Path(item.report_path).read_text(encoding="utf-8")
    assert "comment the constant" in report and "RETRIES" in report
    # the key never lands anywhere a person or a log could read it
    for row in world.repo.item_events(item.id) + runs:
        assert KEY not in json.dumps(row, default=str)
    assert KEY not in report and KEY not in json.dumps(item.data)
    assert KEY not in (world.tmp / "requests.jsonl").read_text()


def test_edit_outside_the_repo_is_refused_and_nothing_is_written(world: World):
    world.fake.when(contains=CLASSIFY, reply=json_reply(classification()))
    world.fake.when(contains=EXECUTE, reply=json_reply(change(
        EDIT, {"path": "../outside.txt", "replace": "pwned"})))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert (item.status, item.failure_class) == (Status.FAILED, "out_of_scope")
    assert not (world.tmp / "outside.txt").exists()
    wt = world.settings.worktrees_dir / item.item_key
    assert (wt / "app" / "net.py").read_text() == "RETRIES = 3\n"  # all or nothing
    assert item.cost_usd > 0  # the call was billed all the same


def test_vario_follows_a_two_to_one_vote_and_keeps_the_dissent(repo, db_url, tmp_path, fake):
    world = World(repo, db_url, tmp_path, fake, vario="vario: {models: [claude-haiku-4-5, "
                  "claude-sonnet-5-5, claude-opus-5-5]}")
    fake.when(contains=CLASSIFY, reply=json_reply(classification("vario")))
    fake.when(contains=VARIO, model="claude-opus-5-5", reply=json_reply(
        {**change(), "verdict": "no_action", "reasons": "the name says it all"}))
    fake.when(contains=VARIO, reply=json_reply({**change(EDIT), "verdict": "change",
                                                "reasons": "a why-comment helps"}))
    fake.when(contains=REVIEW, reply=json_reply(verdict("accept")))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert item.status is Status.DONE and item.tier is Tier.VARIO
    voted = item.data["execute"]["vote"]
    assert voted["verdict"] == "change" and voted["tally"] == {"change": 2, "no_action": 1}
    assert [d["model"] for d in voted["dissent"]] == ["claude-opus-5-5"]
    assert world.calls(VARIO) == 3
    assert "RETRIES" in git(world.project, "show", f"{item.branch}:app/net.py")


def test_review_needs_work_then_a_second_round_is_accepted(world: World):
    world.fake.when(contains=CLASSIFY, reply=json_reply(classification()))
    world.fake.when(contains=EXECUTE, times=1, reply=json_reply(change(
        {"path": "app/net.py", "search": "RETRIES = 3\n", "replace": "RETRIES = 3  # why?\n"})))
    world.fake.when(contains=EXECUTE, reply=json_reply(change(
        {"path": "app/net.py", "search": "RETRIES = 3  # why?\n",
         "replace": "# Three tries ride out a server restart.\nRETRIES = 3\n"})))
    world.fake.when(contains=REVIEW, times=1, reply=json_reply(verdict(
        "needs_work", "the comment asks instead of answering",
        feedback="Say why three: a restart takes two tries.")))
    world.fake.when(contains=REVIEW, reply=json_reply(verdict("accept")))
    handoffs = world.scan_and_dispatch()
    ran = world.run_chain(handoffs[TITLE])
    assert ran == [(Stage.CLASSIFY, "ok"), (Stage.EXECUTE, "ok"), (Stage.REVIEW, "needs_work"),
                   (Stage.EXECUTE, "ok"), (Stage.REVIEW, "accepted")]
    item = world.item()
    assert item.status is Status.DONE and item.review_rounds == 1
    # the second execute call carried the reviewer's feedback
    executes = [r for r in world.fake.requests if EXECUTE in json.dumps(r["body"]["system"])
                and VARIO not in json.dumps(r["body"]["system"])]
    assert "Say why three" in json.dumps(executes[-1]["body"]["messages"])
    assert git(world.project, "show", f"{item.branch}:app/net.py").startswith("# Three tries")


def test_rejected_item_stays_suppressed_until_its_content_changes(world: World):
    answer_all(world.fake)
    world.fake.reset()
    world.fake.when(contains=CLASSIFY, reply=json_reply(classification()))
    world.fake.when(contains=EXECUTE, reply=json_reply(change(EDIT)))
    world.fake.when(contains=REVIEW, reply=json_reply(verdict("reject", "the constant is "
                                                              "obvious; leave it")))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert item.status is Status.REJECTED
    assert item.data["review"]["reasons"] == ["the constant is obvious; leave it"]
    scan_jobs(world.repo, world.jobs, repos=[world.project])
    assert world.item().status is Status.REJECTED
    assert TITLE not in world.scan_and_dispatch()
    # a new description is new content: the item comes back
    write(world.project / "TODO.md", f"- [ ] {TITLE}\n  - it confused a reviewer twice\n")
    scan_jobs(world.repo, world.jobs, repos=[world.project])
    assert world.item().status is Status.PENDING


def test_rate_limit_then_success_is_retried(world: World):
    answer_all(world.fake)
    world.fake.script(rate_limited(retry_after_ms=1))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    assert world.item().status is Status.DONE
    classify_requests = [r for r in world.fake.requests
                         if CLASSIFY in json.dumps(r.get("body", {}).get("system", ""))]
    assert len(classify_requests) == 2  # the 429, then the answer


def test_persistent_overload_fails_the_stage_and_the_item_is_retried_later(world: World):
    world.fake.when(contains=CLASSIFY, reply=overloaded(retry_after_ms=1))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert (item.status, item.failure_class, item.waiting_reason) == (
        Status.WAITING, "api_overloaded", "api_overloaded")
    [run] = world.repo.item_stage_runs(item.id)
    assert (run["outcome"], run["error_class"]) == ("failed", "api_overloaded")
    assert item.lease_until is not None  # a retry time: not lost, not failed for good
    assert world.calls(CLASSIFY) == 1 + world.settings.llm_max_retries


def test_garbage_json_is_bad_output(world: World):
    world.fake.when(contains=CLASSIFY, reply=json_reply(classification()))
    world.fake.when(contains=EXECUTE, reply=text("Sure! Here is the change: {edits: oops"))
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert (item.status, item.failure_class) == (Status.FAILED, "bad_output")
    assert item.cost_usd > 0


def test_a_budget_smaller_than_one_call_waits_and_calls_nothing(repo, db_url, tmp_path, fake):
    world = World(repo, db_url, tmp_path, fake, daily_usd=0.000001)
    answer_all(fake)
    handoffs = world.scan_and_dispatch()
    world.run_chain(handoffs[TITLE])
    item = world.item()
    assert (item.status, item.waiting_reason) == (Status.WAITING, "budget")
    assert fake.requests == []
    # the script tier does not spend, so it still runs
    world.run_chain(handoffs["Fix broken links in docs"])
    assert world.item("Fix broken links in docs").status is Status.DONE


def test_high_risk_classification_is_held_by_the_jobs_filter(world: World):
    world.fake.when(contains=CLASSIFY, reply=json_reply(classification(risk="high")))
    handoffs = world.scan_and_dispatch()
    ran = world.run_chain(handoffs[TITLE])
    assert ran == [(Stage.CLASSIFY, "waiting")]
    item = world.item()
    assert (item.status, item.waiting_reason) == (Status.WAITING, "filtered")
    assert world.calls(EXECUTE) == 0


def test_a_claude_session_is_reserved_against_the_budget_before_it_starts(repo, db_url,
                                                                          tmp_path, fake):
    # Given a daily budget below one session's ceiling (per_item_usd 2.0)
    world = World(repo, db_url, tmp_path, fake, daily_usd=1.0)
    write(world.project / "TODO.md", "- [ ] Split the parser module tier:claude_session\n")
    git(world.project, "commit", "-qam", "claude item")
    handoffs = world.scan_and_dispatch()

    # When its chain runs
    ran = world.run_chain(handoffs["Split the parser module"])

    # Then it waits for the next day's budget and the CLI never started
    assert ran == [(Stage.CLASSIFY, "ok"), (Stage.EXECUTE, "waiting")]
    item = world.item("Split the parser module")
    assert (item.status, item.waiting_reason) == (Status.WAITING, "budget")
    assert item.session_id is None and fake.requests == []
    assert Ledger(world.repo.engine).entries(item_id=item.id) == []


def test_a_message_for_the_claude_queue_may_wait_for_hours(world: World):
    # Given an item for the claude tier and a queue lease of an hour for the other queues
    write(world.project / "TODO.md", "- [ ] Split the parser module tier:claude_session\n"
                                     f"- [ ] {TITLE} tier:llm_call\n")
    git(world.project, "commit", "-qam", "two tiers")
    handoffs = world.scan_and_dispatch()

    # When classify hands each to its execute queue
    for title in ("Split the parser module", TITLE):
        run_stage(world.repo, world.settings, world.ctx, Stage.CLASSIFY, handoffs[title])

    # Then the claude item's message is not presumed lost for a day, the other's in an hour
    def waits(title: str) -> float:
        item = world.item(title)
        assert (item.status, item.stage) == (Status.QUEUED, Stage.EXECUTE)
        return (item.lease_until - item.updated_at).total_seconds()

    assert waits("Split the parser module") == world.settings.claude_queue_lease_seconds
    assert waits(TITLE) == world.settings.queue_lease_seconds


def _claude_item(world: World) -> Handoff:
    write(world.project / "TODO.md", "- [ ] Split the parser module tier:claude_session\n")
    git(world.project, "commit", "-qam", "claude item")
    return world.scan_and_dispatch()["Split the parser module"]


def test_a_claude_session_gets_what_is_left_of_the_items_budget(world: World):
    from fake_anthropic import tool_use

    # Given an item that has already spent $1.50 of its $2.00 per-item budget
    handoff = _claude_item(world)
    item = world.item("Split the parser module")
    budget = world.ctx.llm.budget
    earlier = budget.reserve(job="maint", model="claude-haiku-4-5",
                             estimate_usd=Decimal("1.5"), item_id=item.id)
    budget.commit(earlier, Decimal("1.5"))
    wt = world.settings.worktrees_dir / item.item_key
    world.fake.when(contains=REVIEW, reply=json_reply(verdict("accept")))
    world.fake.when(tool_result=True, reply=text("Split it."))
    world.fake.when(reply=tool_use("Write", {"file_path": str(wt / "parser_a.py"),
                                             "content": "A = 1\n"}))

    # When its chain runs
    world.run_chain(handoff)

    # Then the session ran, bounded by the $0.50 left, and was charged its real cost
    item = world.item("Split the parser module")
    assert item.status is Status.DONE, item.data.get("claude")
    [session] = [e for e in Ledger(world.repo.engine).entries(item_id=item.id)
                 if e["stage"] == "execute"]
    assert float(session["estimate_usd"]) == 0.5 and session["state"] == "committed"
    assert float(session["cost_usd"]) == pytest.approx(item.data["claude"]["cost_usd"])


def test_a_session_that_never_started_is_charged_nothing(world: World, tmp_path: Path):
    from dataclasses import replace as change

    # Given a claude CLI that does not exist
    handoff = _claude_item(world)
    world.ctx = change(world.ctx, claude=change(world.ctx.claude,
                                                bin=str(tmp_path / "no-such-claude")))

    # When the chain runs, the item fails as a crash and its reservation is given back
    world.run_chain(handoff)
    item = world.item("Split the parser module")
    assert (item.status, item.failure_class) == (Status.FAILED, "crash")
    [session] = [e for e in Ledger(world.repo.engine).entries(item_id=item.id)
                 if e["stage"] == "execute"]
    assert session["state"] == "released"
    assert world.ctx.llm.budget.ledger.held_by_item(item.id) == 0
