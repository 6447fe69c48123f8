"""The repository's named queries, each test on SQLite and on a fresh Postgres database."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, insert, text

from helmq.config.jobs import load_jobs
from helmq.control.scan import scan_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.eligibility import matches_filter
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.model import Finding, Recurrence, Stage, Status, Tier
from helmq.domain.outcome import Outcome
from helmq.errors import InputError
from helmq.store.engine import make_engine
from helmq.store.repository import SCAN_LOCK_KEY, Claim, Dispatch, Finish, Repository, ScanCounts
from helmq.store.schema import work_items

JOB = "maint"
REPO_A = "/src/alpha"
REPO_B = "/src/beta"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = 600.0


def finding(
    title: str,
    *,
    repo: str = REPO_A,
    source: str = "todo_md",
    done: bool = False,
    priority: int | None = None,
    recurrence: Recurrence | None = None,
    line: int = 1,
    **data: object,
) -> Finding:
    """A finding as a discovery strategy would report it."""
    fp = fingerprint(repo, "TODO.md", title)
    return Finding(
        fingerprint=fp,
        item_key=item_key(title, fp),
        title=title,
        source_file="TODO.md",
        line=line,
        priority=priority,
        recurrence=recurrence,
        done=done,
        data={"title": title, "source": source, "repo": repo, **data},
    )


def scan(repo: Repository, *findings: Finding, repos=(REPO_A,), source="todo_md", now=T0,
         **kw):
    return repo.upsert_findings(JOB, list(findings), sources={source}, repos=repos, now=now,
                                **kw)


def scan_dir(repo: Repository, root: Path) -> ScanCounts:
    """A real discovery pass over the TODO files under `root`, as `helmq scan` runs it."""
    config = root.parent / "jobs.yaml"
    config.write_text(f"jobs:\n  {JOB}:\n    discovery: {{strategy: autodo_scan}}\n",
                      encoding="utf-8")
    [job] = scan_jobs(repo, load_jobs(config, strategies=STRATEGIES), repos=[root])
    return job.counts


def settle(repo: Repository, title: str, status: Status, now: datetime = T0, **kw) -> None:
    """Drive the item titled `title` through the chain until review settles it as `status`."""
    finish(repo, claimed_for_review(repo, title), Outcome(status, status.value, "settled", **kw),
           now=now)


def by_title(repo: Repository, title: str):
    [item] = [i for i in repo.list_items() if i.data.get("title") == title]
    return item


def dispatch(repo: Repository, now: datetime = T0, **kw) -> list[Dispatch]:
    kw.setdefault("accept", lambda item: True)
    kw.setdefault("limit", 50)
    got = repo.claim_eligible(JOB, lease_seconds=LEASE, now=now, **kw)
    assert got is not None
    return got


def claim(repo: Repository, d: Dispatch, stage: Stage | None = None, now: datetime = T0) -> Claim:
    got = repo.claim_stage(d.handoff, stage or d.stage, lease_seconds=LEASE, now=now)
    assert got is not None
    return got


def finish(repo: Repository, c: Claim, outcome: Outcome, *, rounds: int = 3, now=T0):
    return repo.finish_stage(c, outcome, max_review_rounds=rounds, lease_seconds=LEASE, now=now)


def to_execute() -> Outcome:
    return Outcome(Status.QUEUED, "ok", "to execute", stage=Stage.EXECUTE, tier=Tier.SCRIPT)


def to_review() -> Outcome:
    return Outcome(Status.QUEUED, "ok", "to review", stage=Stage.REVIEW)


def claimed_for_review(repo: Repository, title: str) -> Claim:
    """Drive the item titled `title` through classify and execute; return its review claim."""
    item = by_title(repo, title)
    [d] = dispatch(repo, accept=lambda candidate: candidate.id == item.id)
    c = claim(repo, d)
    finish(repo, c, to_execute())
    item = repo.get_item(item.id)
    c = claim(repo, Dispatch(item.handoff(), Stage.EXECUTE))
    finish(repo, c, to_review())
    return claim(repo, Dispatch(repo.get_item(item.id).handoff(), Stage.REVIEW))


# --- upsert_findings ----------------------------------------------------------------------


def test_rescan_with_the_same_findings_creates_no_duplicates(repo: Repository) -> None:
    first = scan(repo, finding("Fix the docs"), finding("Update deps"))
    again = scan(repo, finding("Fix the docs"), finding("Update deps"), now=T0 + timedelta(1))

    assert (first.new, first.unchanged) == (2, 0)
    assert again.as_dict() == {"new": 0, "updated": 0, "unchanged": 2, "gone": 0, "done": 0}
    assert len(repo.list_items()) == 2
    assert repo.count_by_status() == {"pending": 2}


def test_missing_finding_becomes_gone_only_in_the_scanned_source_and_repo(
    repo: Repository,
) -> None:
    # Given items from two repos and from two sources, and one of another job
    scan(repo, finding("Keep me"), finding("Drop me"), repos=[REPO_A])
    scan(repo, finding("Other repo", repo=REPO_B), repos=[REPO_B])
    scan(repo, finding("Other source", source="doc_health"), source="doc_health")
    repo.upsert_findings("other_job", [finding("Drop me")], sources={"todo_md"}, repos=[REPO_A])

    # When the todo_md scan of repo A no longer finds "Drop me"
    counts = scan(repo, finding("Keep me"), repos=[REPO_A])

    # Then only that item is gone
    assert (counts.gone, counts.unchanged, counts.new) == (1, 1, 0)
    statuses = {(i.job, i.data["title"]): i.status for i in repo.list_items()}
    assert statuses == {
        (JOB, "Keep me"): Status.PENDING,
        (JOB, "Drop me"): Status.GONE,
        (JOB, "Other repo"): Status.PENDING,
        (JOB, "Other source"): Status.PENDING,
        ("other_job", "Drop me"): Status.PENDING,
    }
    # A second pass does not count it gone again
    assert scan(repo, finding("Keep me"), repos=[REPO_A]).gone == 0


def test_gone_item_that_reappears_returns_to_pending(repo: Repository) -> None:
    scan(repo, finding("Flaky"))
    scan(repo)
    assert by_title(repo, "Flaky").status is Status.GONE

    counts = scan(repo, finding("Flaky"))

    assert counts.updated == 1
    item = by_title(repo, "Flaky")
    assert item.status is Status.PENDING
    assert [e["to_status"] for e in repo.item_events(item.id)] == ["pending", "gone", "pending"]


def test_changed_description_updates_data_and_counts_as_updated(repo: Repository) -> None:
    scan(repo, finding("Docs", description="old words"))

    counts = scan(repo, finding("Docs", description="new words"))

    assert (counts.updated, counts.unchanged, counts.new) == (1, 0, 0)
    item = by_title(repo, "Docs")
    assert item.data["description"] == "new words"
    assert item.status is Status.PENDING
    assert len(repo.list_items()) == 1


def test_finding_marked_done_in_its_source_moves_pending_item_to_done(repo: Repository) -> None:
    scan(repo, finding("Ship it"))

    counts = scan(repo, finding("Ship it", done=True))

    assert (counts.done, counts.updated, counts.gone) == (1, 0, 0)
    assert by_title(repo, "Ship it").status is Status.DONE
    # Seen done again: nothing changes
    assert scan(repo, finding("Ship it", done=True)).unchanged == 1


def test_new_finding_already_done_is_not_inserted(repo: Repository) -> None:
    counts = scan(repo, finding("Old work", done=True), finding("New work"))

    assert (counts.new, counts.done) == (1, 0)
    assert [i.data["title"] for i in repo.list_items()] == ["New work"]


def test_rejected_item_returns_to_pending_only_when_its_content_changed(
    repo: Repository,
) -> None:
    # Given an item that review rejected
    scan(repo, finding("Refactor", description="v1"))
    c = claim(repo, dispatch(repo)[0])
    finish(repo, c, Outcome(Status.REJECTED, "rejected", "not worth it"))
    # When a rescan finds it unchanged, it stays suppressed
    assert scan(repo, finding("Refactor", description="v1")).unchanged == 1
    assert by_title(repo, "Refactor").status is Status.REJECTED

    # When its description changes
    counts = scan(repo, finding("Refactor", description="v2"))

    # Then it is pending again
    assert counts.updated == 1
    item = by_title(repo, "Refactor")
    assert (item.status, item.stage, item.data["description"]) == (Status.PENDING, None, "v2")


def test_items_of_skipped_files_are_not_marked_gone(repo: Repository) -> None:
    # Given items in two files of repo A
    other = replace(finding("Elsewhere"), source_file="docs/TODO.md")
    scan(repo, finding("Unreadable now"), other)

    # When a scan finds neither, but could not read TODO.md
    counts = scan(repo, skipped=[(REPO_A, "TODO.md")])

    # Then only the item of the file it read is gone
    assert (counts.gone, counts.unchanged) == (1, 1)
    assert by_title(repo, "Unreadable now").status is Status.PENDING
    assert by_title(repo, "Elsewhere").status is Status.GONE


def test_a_done_item_is_kept_while_its_todo_file_is_briefly_not_utf8(
    repo: Repository, tmp_path: Path
) -> None:
    # Given two items of a real TODO.md, one of them done
    root = tmp_path / "app"
    root.mkdir()
    todo = root / "TODO.md"
    todo.write_text("- [ ] Ship it\n- [ ] Keep going\n", encoding="utf-8")
    assert scan_dir(repo, root).new == 2
    settle(repo, "Ship it", Status.DONE)

    # When a scan meets the file with a byte that is not UTF-8 (it is skipped with a warning)
    todo.write_bytes("- [ ] Ship it\n- [ ] Keep going café\n".encode("latin-1"))
    counts = scan_dir(repo, root)

    # Then nothing is gone, and once the file is readable again the done item stays done
    assert counts.gone == 0
    todo.write_text("- [ ] Ship it\n- [ ] Keep going\n", encoding="utf-8")
    scan_dir(repo, root)
    assert {i.data["title"]: i.status for i in repo.list_items()} == {
        "Ship it": Status.DONE, "Keep going": Status.PENDING}
    assert [d.handoff["item"] for d in dispatch(repo)] == [by_title(repo, "Keep going").id]


@pytest.mark.parametrize("settled", [Status.DONE, Status.REJECTED])
def test_a_settled_item_that_disappears_and_returns_keeps_its_status(
    repo: Repository, settled: Status
) -> None:
    # Given a settled item
    scan(repo, finding("Settled", description="v1"))
    settle(repo, "Settled", settled)

    # When a scan misses it (say, a branch without TODO.md is checked out)
    scan(repo)
    gone = by_title(repo, "Settled")
    assert (gone.status, gone.data.get("gone_from")) == (Status.GONE, settled)

    # And then finds it again as it was
    counts = scan(repo, finding("Settled", description="v1"))

    # Then it has its status back and is not run again
    assert counts.updated == 1
    item = by_title(repo, "Settled")
    assert (item.status, item.data.get("gone_from")) == (settled, None)
    assert [e["to_status"] for e in repo.item_events(item.id)][-2:] == ["gone", settled]
    assert dispatch(repo) == []


def test_a_gone_item_found_again_checked_in_its_source_is_done(repo: Repository) -> None:
    scan(repo, finding("Ticked meanwhile"))
    scan(repo)

    counts = scan(repo, finding("Ticked meanwhile", done=True))

    assert counts.done == 1
    assert by_title(repo, "Ticked meanwhile").status is Status.DONE


def test_a_rejected_item_that_returns_changed_is_pending_again(repo: Repository) -> None:
    scan(repo, finding("Refactor", description="v1"))
    settle(repo, "Refactor", Status.REJECTED)
    scan(repo)

    scan(repo, finding("Refactor", description="v2"))

    assert by_title(repo, "Refactor").status is Status.PENDING


def test_a_recurring_done_item_that_returns_is_done_until_its_reset(repo: Repository) -> None:
    # Given a weekly item done at T0 that a scan then missed
    weekly = finding("Weekly", recurrence=Recurrence.WEEKLY)
    scan(repo, weekly)
    settle(repo, "Weekly", Status.DONE)
    scan(repo)

    # When it is found again
    scan(repo, weekly)

    # Then it is done, as before, and reset_recurring returns it to pending with its completion
    assert by_title(repo, "Weekly").status is Status.DONE
    assert repo.reset_recurring(now=T0 + timedelta(minutes=1)) == 1
    item = by_title(repo, "Weekly")
    assert (item.status, item.last_completed) == (Status.PENDING, T0)


def test_a_tag_removed_from_the_todo_line_is_cleared_from_data(
    repo: Repository, tmp_path: Path
) -> None:
    # Given an item scanned with +auto and a risk
    root = tmp_path / "app"
    root.mkdir()
    (root / "TODO.md").write_text("- [ ] Ship it +auto risk:high\n", encoding="utf-8")
    scan_dir(repo, root)
    assert matches_filter(by_title(repo, "Ship it").data, {"auto_start": True})

    # When the user removes both tags
    (root / "TODO.md").write_text("- [ ] Ship it\n", encoding="utf-8")
    counts = scan_dir(repo, root)

    # Then they are gone from its data too, and the item is no longer auto-started
    assert counts.updated == 1
    data = by_title(repo, "Ship it").data
    assert (data.get("auto_start"), data.get("risk")) == (None, None)
    assert not matches_filter(data, {"auto_start": True})
    assert matches_filter(data, {"risk": [None, "low"]})
    # And a scan of the same file again changes nothing
    assert scan_dir(repo, root).unchanged == 1


# --- claim_eligible -----------------------------------------------------------------------


def test_claim_eligible_orders_by_priority_with_nulls_last(repo: Repository) -> None:
    scan(repo, finding("none"), finding("p2", priority=2), finding("p0", priority=0),
         finding("p1", priority=1))

    got = dispatch(repo)

    titles = [repo.get_item(d.handoff["item"]).data["title"] for d in got]
    assert titles == ["p0", "p1", "p2", "none"]


def test_claim_eligible_respects_limit_and_accept(repo: Repository) -> None:
    scan(repo, *(finding(f"item {n}", priority=n) for n in range(4)), finding("skip me",
                                                                              priority=0))

    got = dispatch(repo, limit=2, accept=lambda item: item.title != "skip me")

    assert [repo.get_item(d.handoff["item"]).title for d in got] == ["item 0", "item 1"]
    assert repo.count_by_status() == {"queued": 2, "pending": 3}
    assert by_title(repo, "skip me").status is Status.PENDING
    assert dispatch(repo, limit=0) == []


def test_claim_eligible_queues_with_next_attempt_and_an_event(repo: Repository) -> None:
    scan(repo, finding("Go"))
    before = by_title(repo, "Go")

    [d] = dispatch(repo)

    item = repo.get_item(before.id)
    assert d.stage is Stage.CLASSIFY
    assert d.handoff == {"item": before.id, "attempt": before.attempt + 1, "tier": None}
    assert (item.status, item.stage, item.attempt) == (Status.QUEUED, Stage.CLASSIFY, 1)
    assert item.lease_until == T0 + timedelta(seconds=LEASE)
    last = repo.item_events(item.id)[-1]
    assert (last["from_status"], last["to_status"], last["stage"], last["attempt"]) == (
        "pending", "queued", "classify", 1)
    # Queued items are not eligible again
    assert dispatch(repo) == []


def test_claim_eligible_picks_waiting_items_only_once_their_retry_time_passed(
    repo: Repository,
) -> None:
    # Given an item that classify sent to wait for an hour
    scan(repo, finding("Needs key"))
    c = claim(repo, dispatch(repo)[0])
    finish(repo, c, Outcome(Status.WAITING, "waiting", "no key", tier=Tier.CLAUDE_SESSION,
                            waiting_reason="no_credentials", retry_after_seconds=3600))

    # When dispatch runs before the hour is over, it stays waiting
    assert dispatch(repo, now=T0 + timedelta(minutes=30)) == []
    assert by_title(repo, "Needs key").status is Status.WAITING

    # When it runs after, the item is queued again, carrying its tier
    [d] = dispatch(repo, now=T0 + timedelta(minutes=61))
    item = by_title(repo, "Needs key")
    assert (item.status, item.attempt, item.waiting_reason) == (Status.QUEUED, 2, None)
    assert d.handoff["tier"] == "claude_session"


# --- claim_stage --------------------------------------------------------------------------


def test_claim_stage_is_a_compare_and_set_on_stage_and_attempt(repo: Repository) -> None:
    scan(repo, finding("Once"))
    [d] = dispatch(repo)
    item_id = d.handoff["item"]

    # A message for the wrong stage finds no row
    assert repo.claim_stage(d.handoff, Stage.EXECUTE, lease_seconds=LEASE) is None
    # A stale message from an older dispatch finds no row
    stale = {**d.handoff, "attempt": d.handoff["attempt"] - 1}
    assert repo.claim_stage(stale, Stage.CLASSIFY, lease_seconds=LEASE) is None
    assert repo.item_stage_runs(item_id) == []

    c = repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=LEASE, task_id="t-1",
                         worker="w@h", now=T0)

    assert c is not None and c.item.status is Status.CLASSIFYING
    [run] = repo.item_stage_runs(item_id)
    assert (run["id"], run["stage"], run["attempt"], run["task_id"], run["worker"]) == (
        c.run_id, "classify", 1, "t-1", "w@h")
    assert run["finished_at"] is None
    events = repo.item_events(item_id)
    # The duplicate of the same message finds no row and changes nothing
    assert repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=LEASE) is None
    assert len(repo.item_stage_runs(item_id)) == 1
    assert repo.item_events(item_id) == events
    assert repo.get_item(item_id).lease_until == T0 + timedelta(seconds=LEASE)


# --- finish_stage -------------------------------------------------------------------------


def test_finish_stage_applies_the_outcome_and_keeps_data_written_meanwhile(
    repo: Repository,
) -> None:
    # Given an item in classify
    scan(repo, finding("Merge", description="before", keep="me"))
    c = claim(repo, dispatch(repo)[0])
    # And discovery refreshed its description while classify ran
    scan(repo, finding("Merge", description="after", keep="me"))

    # When classify finishes with its own data and a cost
    outcome = Outcome(Status.QUEUED, "ok", "to execute", stage=Stage.EXECUTE, tier=Tier.SCRIPT,
                      data={"classify": {"tier": "script", "check": "links"}}, cost_usd=0.25)
    result = finish(repo, c, outcome, now=T0 + timedelta(seconds=5))

    # Then the item moves on with both discovery's and classify's data
    assert result.applied and result.rework is None
    item = repo.get_item(c.item.id)
    assert (item.status, item.stage, item.tier, item.attempt) == (
        Status.QUEUED, Stage.EXECUTE, Tier.SCRIPT, 1)
    assert item.data["description"] == "after"
    assert item.data["keep"] == "me"
    assert item.data["classify"] == {"tier": "script", "check": "links"}
    assert item.cost_usd == pytest.approx(0.25)
    assert item.lease_until == T0 + timedelta(seconds=5 + LEASE)
    assert item.last_completed is None
    [run] = repo.item_stage_runs(item.id)
    assert (run["outcome"], run["cost_usd"]) == ("ok", pytest.approx(0.25))
    assert run["finished_at"] == T0 + timedelta(seconds=5)

    # And a later stage adds its cost to the total
    c2 = claim(repo, Dispatch(item.handoff(), Stage.EXECUTE))
    finish(repo, c2, Outcome(Status.QUEUED, "ok", "", stage=Stage.REVIEW, cost_usd=0.5))
    assert repo.get_item(item.id).cost_usd == pytest.approx(0.75)


def test_finish_stage_replaces_top_level_data_keys(repo: Repository) -> None:
    # Given an item whose review left a verdict with reasons and a null note
    scan(repo, finding("Twice"))
    c = claimed_for_review(repo, "Twice")
    verdict = {"verdict": "needs_work", "reasons": ["still fires"], "round": 1}
    finish(repo, c, Outcome(Status.NEEDS_WORK, "needs_work", "again",
                            data={"review": verdict, "note": "x"}))
    item = by_title(repo, "Twice")
    c = claim(repo, Dispatch(item.handoff(), Stage.EXECUTE))
    finish(repo, c, to_review())
    c = claim(repo, Dispatch(by_title(repo, "Twice").handoff(), Stage.REVIEW))

    # When the next review writes a smaller verdict and clears the note
    finish(repo, c, Outcome(Status.DONE, "accepted", "ok",
                            data={"review": {"verdict": "accept"}, "note": None}))

    # Then the key is replaced as a whole, on every backend, and null is stored as null
    data = by_title(repo, "Twice").data
    assert data["review"] == {"verdict": "accept"}
    assert "note" in data and data["note"] is None


def test_finish_stage_done_sets_last_completed_branch_and_report(repo: Repository) -> None:
    scan(repo, finding("Finish"))
    c = claimed_for_review(repo, "Finish")
    at = T0 + timedelta(minutes=3)

    result = finish(repo, c, Outcome(Status.DONE, "accepted", "good", branch="helmq/x",
                                     report_path="/r/x.md"), now=at)

    item = repo.get_item(c.item.id)
    assert result == Finish(applied=True)
    assert (item.status, item.last_completed, item.lease_until) == (Status.DONE, at, None)
    assert (item.branch, item.report_path) == ("helmq/x", "/r/x.md")
    assert repo.item_events(item.id)[-1]["to_status"] == "done"


def test_finish_stage_drops_the_outcome_when_the_item_was_reconciled(repo: Repository) -> None:
    # Given classify holds the item, and the reconciler takes it back
    scan(repo, finding("Slow"))
    c = claim(repo, dispatch(repo)[0])
    [redo] = repo.reclaim_expired(max_redispatches=3, lease_seconds=LEASE, everything=True,
                                  now=T0)
    events = repo.item_events(c.item.id)

    # When the old classify finishes
    result = finish(repo, c, Outcome(Status.FAILED, "failed", "late", failure_class="crash"))

    # Then nothing lands on the item, and the run is recorded as dropped
    assert result.applied is False and result.rework is None
    item = repo.get_item(c.item.id)
    assert (item.status, item.attempt, item.failure_class) == (Status.QUEUED, 2, None)
    assert redo.handoff["attempt"] == 2
    assert repo.item_events(item.id) == events
    [run] = repo.item_stage_runs(item.id)
    assert run["outcome"] == "dropped"
    # And the re-dispatched message still claims it
    assert claim(repo, redo) is not None


def test_finish_stage_of_an_old_attempt_is_dropped_while_a_new_one_runs(repo: Repository) -> None:
    # Given classify was reconciled, and the re-dispatched message's classify now holds the item
    scan(repo, finding("Twice claimed"))
    old = claim(repo, dispatch(repo)[0])
    [redo] = repo.reclaim_expired(max_redispatches=3, lease_seconds=LEASE, everything=True,
                                  now=T0)
    new = claim(repo, redo)
    assert (new.item.status, new.item.attempt) == (Status.CLASSIFYING, 2)

    # When the old classify finishes: same status, older attempt
    dropped = finish(repo, old, Outcome(Status.FAILED, "failed", "late", failure_class="crash"))

    # Then it is dropped, and the new run's outcome still lands
    assert dropped.applied is False
    assert repo.get_item(new.item.id).status is Status.CLASSIFYING
    assert finish(repo, new, to_execute()).applied
    assert repo.get_item(new.item.id).status is Status.QUEUED
    assert [r["outcome"] for r in repo.item_stage_runs(new.item.id)] == ["dropped", "ok"]


def test_needs_work_with_rounds_left_returns_a_rework_dispatch(repo: Repository) -> None:
    scan(repo, finding("Rework"))
    c = claimed_for_review(repo, "Rework")

    result = finish(repo, c, Outcome(Status.NEEDS_WORK, "needs_work", "still fires"), rounds=3)

    assert result.applied
    assert result.rework is not None
    assert result.rework.stage is Stage.EXECUTE
    assert result.rework.handoff == {"item": c.item.id, "attempt": c.item.attempt + 1,
                                     "tier": "script"}
    item = repo.get_item(c.item.id)
    assert (item.status, item.stage, item.review_rounds, item.attempt) == (
        Status.QUEUED, Stage.EXECUTE, 1, c.item.attempt + 1)
    assert [e["to_status"] for e in repo.item_events(item.id)[-2:]] == ["needs_work", "queued"]
    assert claim(repo, result.rework) is not None


def test_needs_work_without_rounds_left_stays_needs_work(repo: Repository) -> None:
    scan(repo, finding("Last round"))
    c = claimed_for_review(repo, "Last round")

    result = finish(repo, c, Outcome(Status.NEEDS_WORK, "needs_work", "still fires"), rounds=1)

    assert result.applied and result.rework is None
    item = repo.get_item(c.item.id)
    assert (item.status, item.review_rounds, item.attempt) == (
        Status.NEEDS_WORK, 1, c.item.attempt)


# --- reset_recurring ----------------------------------------------------------------------


def test_reset_recurring_returns_only_done_recurring_items_to_pending(repo: Repository) -> None:
    scan(repo, finding("Weekly", recurrence=Recurrence.WEEKLY), finding("Once"))
    for title in ("Weekly", "Once"):
        c = claimed_for_review(repo, title)
        finish(repo, c, Outcome(Status.DONE, "accepted", "ok"))

    assert repo.reset_recurring(now=T0 + timedelta(minutes=1)) == 1

    weekly, once = by_title(repo, "Weekly"), by_title(repo, "Once")
    assert (weekly.status, weekly.last_completed, weekly.stage) == (Status.PENDING, T0, None)
    assert once.status is Status.DONE
    assert repo.reset_recurring() == 0


# --- reclaim_expired ----------------------------------------------------------------------


def test_reclaim_expired_requeues_expired_items_and_leaves_the_others(repo: Repository) -> None:
    # Given a queued item and a running one whose leases expire at T0+LEASE,
    # and one dispatched later whose lease has not expired
    scan(repo, finding("queued", priority=0), finding("running", priority=1))
    queued_d, running_d = dispatch(repo)
    claim(repo, running_d, now=T0)
    scan(repo, finding("queued", priority=0), finding("running", priority=1),
         finding("fresh", priority=2))
    [fresh_d] = dispatch(repo, now=T0 + timedelta(seconds=LEASE))

    # When the reconciler runs after the first two leases expired
    later = T0 + timedelta(seconds=LEASE + 1)
    got = repo.reclaim_expired(max_redispatches=3, lease_seconds=LEASE, now=later)

    # Then both are queued again for their stage under a new attempt
    assert got is not None
    assert sorted((d.handoff["item"], d.handoff["attempt"], d.stage) for d in got) == sorted([
        (queued_d.handoff["item"], 2, Stage.CLASSIFY),
        (running_d.handoff["item"], 2, Stage.CLASSIFY),
    ])
    for d in (queued_d, running_d):
        item = repo.get_item(d.handoff["item"])
        assert (item.status, item.redispatches) == (Status.QUEUED, 1)
        assert item.lease_until == later + timedelta(seconds=LEASE)
        assert repo.item_events(item.id)[-1]["message"].startswith("reconciled")
    fresh = repo.get_item(fresh_d.handoff["item"])
    assert (fresh.status, fresh.attempt, fresh.redispatches) == (Status.QUEUED, 1, 0)
    # The old messages are now stale
    assert repo.claim_stage(queued_d.handoff, Stage.CLASSIFY, lease_seconds=LEASE) is None


def test_reclaim_expired_fails_an_item_as_lost_after_max_redispatches(repo: Repository) -> None:
    scan(repo, finding("Lost"))
    dispatch(repo)
    now = T0
    for n in range(1, 3):
        now += timedelta(seconds=LEASE + 1)
        assert len(repo.reclaim_expired(max_redispatches=2, lease_seconds=LEASE, now=now)) == 1
        assert by_title(repo, "Lost").redispatches == n

    now += timedelta(seconds=LEASE + 1)
    assert repo.reclaim_expired(max_redispatches=2, lease_seconds=LEASE, now=now) == []

    item = by_title(repo, "Lost")
    assert (item.status, item.failure_class, item.lease_until) == (Status.FAILED, "lost", None)
    assert repo.item_events(item.id)[-1]["to_status"] == "failed"
    assert repo.count_in_flight() == 0


def test_reclaim_expired_everything_takes_every_in_flight_item(repo: Repository) -> None:
    scan(repo, finding("a"), finding("b"), finding("c"))
    d_a, d_b, _ = dispatch(repo)
    claim(repo, d_a)
    c_b = claim(repo, d_b)
    finish(repo, c_b, Outcome(Status.FAILED, "failed", "no", failure_class="x"))

    # Nothing has expired yet
    assert repo.reclaim_expired(max_redispatches=3, lease_seconds=LEASE, now=T0) == []

    got = repo.reclaim_expired(max_redispatches=3, lease_seconds=LEASE, everything=True, now=T0)

    assert len(got) == 2
    assert repo.count_by_status() == {"queued": 2, "failed": 1}
    assert all(d.handoff["attempt"] == 2 for d in got)


# --- import_record ------------------------------------------------------------------------


def imported(status: str = "pending", priority: int = 2) -> dict:
    return {
        "item_key": "rotate-keys",
        "fingerprint": "f" * 32,
        "status": status,
        "priority": priority,
        "source_file": "queue.yaml",
        "recurrence": "weekly",
        "last_completed": datetime(2029, 12, 1, 8, 30, tzinfo=UTC),
        "data": {"title": "Rotate keys", "tags": ["ops"]},
    }


def test_import_record_twice_is_new_then_unchanged(repo: Repository) -> None:
    assert repo.import_record(JOB, imported()) == "new"
    assert repo.import_record(JOB, imported()) == "unchanged"

    item = repo.get_item("rotate-keys")
    assert (item.status, item.priority, item.recurrence) == (Status.PENDING, 2, "weekly")
    assert item.last_completed == datetime(2029, 12, 1, 8, 30, tzinfo=UTC)
    assert [e["kind"] for e in repo.item_events(item.id)] == ["imported"]


def test_reimport_keeps_the_status_the_database_changed(repo: Repository) -> None:
    # Given an imported item that the pipeline has since dispatched
    repo.import_record(JOB, imported())
    dispatch(repo)

    # When the same queue is imported again, and then with a new priority
    assert repo.import_record(JOB, imported()) == "unchanged"
    assert repo.import_record(JOB, imported(priority=0)) == "updated"

    # Then the database's status stands and only the priority changed
    item = repo.get_item("rotate-keys")
    assert (item.status, item.priority, item.attempt) == (Status.QUEUED, 0, 1)


def test_reimport_after_the_pipeline_ran_changes_nothing(repo: Repository) -> None:
    # Given an imported item that the pipeline took to done, with its stage results
    repo.import_record(JOB, imported(), now=T0)
    settle(repo, "Rotate keys", Status.DONE, now=T0 + timedelta(hours=1),
           data={"review": {"verdict": "accept"}})
    done = repo.get_item("rotate-keys")
    assert done.data["review"] == {"verdict": "accept"}
    events = repo.item_events(done.id)

    # When the same queue is imported again
    assert repo.import_record(JOB, imported(), now=T0 + timedelta(hours=2)) == "unchanged"

    # Then nothing changed: not the stage results, not last_completed, not the status
    assert repo.get_item("rotate-keys") == done
    assert repo.item_events(done.id) == events


def test_reimport_merges_data_and_moves_last_completed_only_forward(repo: Repository) -> None:
    repo.import_record(JOB, imported(), now=T0)
    settle(repo, "Rotate keys", Status.DONE, now=T0, data={"review": {"verdict": "accept"}})

    # An older completion in the queue does not rewind the item's
    older = imported()
    older["last_completed"] = T0 - timedelta(days=1)
    assert repo.import_record(JOB, older) == "unchanged"
    assert repo.get_item("rotate-keys").last_completed == T0

    # A new key and a newer completion are taken; the stage results stay
    newer = imported()
    newer["data"] = {**newer["data"], "owner": "ops"}
    newer["last_completed"] = T0 + timedelta(days=1)
    assert repo.import_record(JOB, newer) == "updated"
    item = repo.get_item("rotate-keys")
    assert item.last_completed == T0 + timedelta(days=1)
    assert (item.data["owner"], item.data["review"], item.data["tags"]) == (
        "ops", {"verdict": "accept"}, ["ops"])
    assert item.status is Status.DONE


def test_an_imported_waiting_item_is_due_for_a_retry(repo: Repository) -> None:
    assert repo.import_record(JOB, imported(status="waiting"), now=T0) == "new"
    assert repo.get_item("rotate-keys").lease_until == T0

    [d] = dispatch(repo, now=T0)

    assert repo.get_item(d.handoff["item"]).status is Status.QUEUED


def test_import_record_of_another_items_fingerprint_is_an_input_error(repo: Repository) -> None:
    # Given a discovered item
    scan(repo, finding("Found"))
    found = by_title(repo, "Found")

    # When an imported item claims its fingerprint
    values = imported()
    values["fingerprint"] = found.fingerprint
    with pytest.raises(InputError) as caught:
        repo.import_record(JOB, values)

    # Then it is refused by name, and nothing is written
    assert "rotate-keys" in str(caught.value) and found.item_key in str(caught.value)
    assert repo.get_item("rotate-keys") is None
    assert repo.get_item(found.id) == found
    # And the repository is still usable
    assert repo.import_record(JOB, imported()) == "new"


# --- reads --------------------------------------------------------------------------------


def test_item_events_record_every_transition_in_order(repo: Repository) -> None:
    scan(repo, finding("Story"))
    c = claimed_for_review(repo, "Story")
    finish(repo, c, Outcome(Status.DONE, "accepted", "fine"))

    events = repo.item_events(c.item.id)

    assert [(e["from_status"], e["to_status"], e["stage"]) for e in events] == [
        (None, "pending", None),
        ("pending", "queued", "classify"),
        ("queued", "classifying", "classify"),
        ("classifying", "queued", "classify"),
        ("queued", "executing", "execute"),
        ("executing", "queued", "execute"),
        ("queued", "reviewing", "review"),
        ("reviewing", "done", "review"),
    ]
    assert events[0]["kind"] == "discovered"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def test_counts_and_get_item(repo: Repository) -> None:
    scan(repo, finding("a"), finding("b"), finding("c"), finding("d"))
    d1, d2, _ = dispatch(repo, limit=3)
    claim(repo, d1)
    c2 = claim(repo, d2)
    finish(repo, c2, Outcome(Status.FAILED, "failed", "no", failure_class="x"))

    assert repo.count_by_status() == {"classifying": 1, "failed": 1, "queued": 1, "pending": 1}
    assert repo.count_in_flight() == 2

    item = repo.get_item(d2.handoff["item"])
    assert item is not None and item.status is Status.FAILED and item.failure_class == "x"
    assert repo.get_item(str(item.id)) == item
    assert repo.get_item(item.item_key) == item
    assert repo.get_item(10_000) is None
    assert repo.get_item("no-such-key") is None


# --- concurrency on Postgres --------------------------------------------------------------


def test_discovery_refresh_keeps_data_a_stage_wrote_meanwhile(pg_url: str) -> None:
    engine = make_engine(pg_url)
    stage_engine = make_engine(pg_url)
    repo, stage_repo = Repository(engine), Repository(stage_engine)
    try:
        # Given an item in classify
        scan(repo, finding("Race", description="v1"))
        c = claim(repo, dispatch(repo)[0])

        # When classify commits its result after the rescan read the row, before it wrote it
        def finish_first(conn, cursor, statement, *args) -> None:
            if statement.lstrip().startswith("UPDATE work_items") and not fired:
                fired.append(True)
                finish(stage_repo, c, Outcome(Status.QUEUED, "ok", "", stage=Stage.EXECUTE,
                                              tier=Tier.SCRIPT, data={"classify": {"x": 1}}))

        fired: list[bool] = []
        event.listen(engine, "before_cursor_execute", finish_first)
        counts = scan(repo, finding("Race", description="v2"))
        event.remove(engine, "before_cursor_execute", finish_first)

        # Then both the new description and classify's result are kept
        assert fired and counts.updated == 1
        data = repo.get_item(c.item.id).data
        assert (data["description"], data.get("classify")) == ("v2", {"x": 1})
    finally:
        engine.dispose()
        stage_engine.dispose()


def test_concurrent_scans_of_one_job_wait_for_each_other(pg_url: str) -> None:
    engine = make_engine(pg_url)
    repo = Repository(engine)
    other = create_engine(pg_url)
    results: list[object] = []
    try:
        # Given another scan, mid-transaction, that holds the scan lock and inserted a finding
        f = finding("Both see me")
        with other.connect() as conn:
            tx = conn.begin()
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCAN_LOCK_KEY})
            conn.execute(insert(work_items).values(
                job=JOB, item_key=f.item_key, fingerprint=f.fingerprint, status="pending",
                source_file=f.source_file, line=f.line, data=f.data))

            # When a second scan of the same job starts
            def second() -> None:
                try:
                    results.append(scan(repo, f))
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    results.append(exc)

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.5)
            # Then it waits for the first to commit, and finds the item known
            assert results == []
            tx.commit()
            thread.join(10)
        assert len(results) == 1 and isinstance(results[0], ScanCounts), results
        assert (results[0].new, results[0].unchanged) == (0, 1)
        assert len(repo.list_items()) == 1
    finally:
        engine.dispose()
        other.dispose()
