"""The dispatch tick with a real jobs.yaml and last-active file, on SQLite and Postgres."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from helmq.config.jobs import load_jobs
from helmq.config.settings import Settings
from helmq.control.dispatch import dispatch_tick
from helmq.discovery.registry import STRATEGIES
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.jobs import JobsConfig
from helmq.domain.model import Finding, Stage, Status, Tier
from helmq.domain.outcome import Outcome
from helmq.repos.last_active import touch_last_active
from helmq.store.engine import make_engine
from helmq.store.repository import DISPATCH_LOCK_KEY, Repository

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
REPO = "/src/project"

JOBS_YAML = """\
jobs:
  maint:
    discovery: { strategy: autodo_scan }
    eligibility:
      require_user_idle_minutes: 15
      data_filter: { risk: [low, null], auto_start: true }
"""


def jobs_from(tmp_path: Path, text_: str = JOBS_YAML) -> JobsConfig:
    path = tmp_path / "jobs.yaml"
    path.write_text(text_, encoding="utf-8")
    return load_jobs(path, strategies=STRATEGIES)


def settings_for(tmp_path: Path, url: str = "sqlite://") -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        database_url=url,
        broker_url="memory://",
        config_path=tmp_path / "jobs.yaml",
        last_active_path=tmp_path / "last_active.json",
    )


def finding(title: str, **data: object) -> Finding:
    fp = fingerprint(REPO, "TODO.md", title)
    return Finding(fingerprint=fp, item_key=item_key(title, fp), title=title,
                   source_file="TODO.md", line=1,
                   data={"title": title, "source": "todo_md", "repo": REPO,
                         "auto_start": True, **data})


def add(repo: Repository, *findings: Finding, job: str = "maint") -> None:
    repo.upsert_findings(job, list(findings), sources={"todo_md"}, repos=[REPO], now=NOW)


def statuses(repo: Repository) -> dict[str, Status]:
    return {item.title: item.status for item in repo.list_items()}


def dispatched_titles(repo: Repository, tick) -> set[str]:
    return {repo.get_item(d.handoff["item"]).title for d in tick.dispatched}


def test_nothing_is_dispatched_while_the_user_is_active(repo: Repository, tmp_path: Path) -> None:
    # Given a pending item and a user active five minutes ago
    add(repo, finding("Tidy"))
    settings = settings_for(tmp_path)
    touch_last_active(settings.last_active_path, NOW - timedelta(minutes=5))

    # When the tick runs
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings, now=NOW)

    # Then the job is skipped and nothing moved
    assert tick.dispatched == []
    assert "user active" in tick.skipped["maint"]
    assert statuses(repo) == {"Tidy": Status.PENDING}

    # Unless the caller ignores idleness
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings, ignore_idle=True, now=NOW)
    assert dispatched_titles(repo, tick) == {"Tidy"}
    assert statuses(repo) == {"Tidy": Status.QUEUED}


@pytest.mark.parametrize("last_active", [timedelta(minutes=16), None], ids=["old", "missing"])
def test_items_are_dispatched_once_the_user_is_idle(
    repo: Repository, tmp_path: Path, last_active: timedelta | None
) -> None:
    add(repo, finding("Tidy"), finding("Sweep"))
    settings = settings_for(tmp_path)
    if last_active is not None:
        touch_last_active(settings.last_active_path, NOW - last_active)

    tick = dispatch_tick(repo, jobs_from(tmp_path), settings, now=NOW)

    assert tick.skipped == {}
    assert dispatched_titles(repo, tick) == {"Tidy", "Sweep"}
    assert all(d.stage == "classify" for d in tick.dispatched)
    assert statuses(repo) == {"Tidy": Status.QUEUED, "Sweep": Status.QUEUED}


def test_data_filter_excludes_items_that_do_not_match(repo: Repository, tmp_path: Path) -> None:
    # Given items with every combination the filter `risk: [low, null], auto_start: true` sees
    add(
        repo,
        finding("no risk"),
        finding("low risk", risk="low"),
        finding("high risk", risk="high"),
        finding("not auto", risk="low", auto_start=False),
        finding("auto missing", risk="low", auto_start=None),
    )

    tick = dispatch_tick(repo, jobs_from(tmp_path), settings_for(tmp_path), now=NOW)

    assert dispatched_titles(repo, tick) == {"no risk", "low risk"}
    assert statuses(repo) == {
        "no risk": Status.QUEUED,
        "low risk": Status.QUEUED,
        "high risk": Status.PENDING,
        "not auto": Status.PENDING,
        "auto missing": Status.PENDING,
    }


def test_a_paused_job_dispatches_nothing(repo: Repository, tmp_path: Path) -> None:
    jobs = jobs_from(tmp_path, JOBS_YAML.replace("  maint:\n", "  maint:\n    paused: true\n"))
    assert jobs.jobs["maint"].paused
    add(repo, finding("Tidy"))

    tick = dispatch_tick(repo, jobs, settings_for(tmp_path), ignore_idle=True, now=NOW)

    assert tick.dispatched == []
    assert tick.skipped == {"maint": "paused"}
    assert statuses(repo) == {"Tidy": Status.PENDING}


def test_a_job_paused_from_the_ui_waits_until_resumed(repo: Repository, tmp_path: Path) -> None:
    jobs = jobs_from(tmp_path, JOBS_YAML)
    add(repo, finding("Tidy"))
    repo.set_job_paused("maint", True, reason="holiday")

    tick = dispatch_tick(repo, jobs, settings_for(tmp_path), ignore_idle=True, now=NOW)
    assert tick.dispatched == [] and tick.skipped == {"maint": "paused from the UI"}

    repo.set_job_paused("maint", False)
    tick = dispatch_tick(repo, jobs, settings_for(tmp_path), ignore_idle=True, now=NOW)
    assert statuses(repo) == {"Tidy": Status.QUEUED}


def test_only_the_other_jobs_items_are_dispatched(repo: Repository, tmp_path: Path) -> None:
    jobs = jobs_from(tmp_path, JOBS_YAML + "  other:\n    paused: true\n")
    add(repo, finding("Mine"))
    add(repo, finding("Theirs"), job="other")

    tick = dispatch_tick(repo, jobs, settings_for(tmp_path), now=NOW)

    assert dispatched_titles(repo, tick) == {"Mine"}
    assert {i.job: i.status for i in repo.list_items()} == {
        "maint": Status.QUEUED, "other": Status.PENDING}


def test_weekly_item_waits_a_week_after_it_was_completed(repo: Repository, tmp_path: Path) -> None:
    # Given two weekly items, done one day and eight days ago, and a non-recurring done item
    for key, days, recurrence in (("recent", 1, "weekly"), ("stale", 8, "weekly"),
                                  ("once", 8, None)):
        repo.import_record("maint", {
            "item_key": key, "fingerprint": key * 4, "status": "done", "priority": None,
            "source_file": "TODO.md", "recurrence": recurrence,
            "last_completed": NOW - timedelta(days=days),
            "data": {"title": key, "auto_start": True},
        })

    # When the tick runs
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings_for(tmp_path), now=NOW)

    # Then both recurring items are back to pending, but only the stale one is dispatched
    assert tick.reset == 2
    assert dispatched_titles(repo, tick) == {"stale"}
    assert statuses(repo) == {"recent": Status.PENDING, "stale": Status.QUEUED,
                              "once": Status.DONE}
    assert repo.get_item("recent").last_completed == NOW - timedelta(days=1)

    # And six days later the recent one is due too
    later = NOW + timedelta(days=6, seconds=1)
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings_for(tmp_path), now=later)
    assert dispatched_titles(repo, tick) == {"recent"}


def test_a_second_beat_changes_nothing_while_the_first_holds_the_lock(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    repo = Repository(engine)
    other = create_engine(pg_url)
    try:
        add(repo, finding("Tidy"), finding("Sweep"))
        jobs, settings = jobs_from(tmp_path), settings_for(tmp_path, pg_url)
        before = {i.id: repo.item_events(i.id) for i in repo.list_items()}

        # Given another dispatcher holds the dispatch lock in an open transaction
        with other.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DISPATCH_LOCK_KEY})

            # When this beat claims and ticks
            claimed = repo.claim_eligible("maint", accept=lambda item: True, limit=10,
                                          lease_seconds=60, now=NOW)
            tick = dispatch_tick(repo, jobs, settings, ignore_idle=True, now=NOW)

            # Then it claims nothing, reports the job skipped, and changes no row
            assert claimed is None
            assert tick.dispatched == []
            assert tick.skipped == {"maint": "another dispatcher holds the lock"}
            assert statuses(repo) == {"Tidy": Status.PENDING, "Sweep": Status.PENDING}
            assert {i.id: repo.item_events(i.id) for i in repo.list_items()} == before

        # Once the lock is released, the same tick dispatches
        tick = dispatch_tick(repo, jobs, settings, ignore_idle=True, now=NOW)
        assert dispatched_titles(repo, tick) == {"Tidy", "Sweep"}
    finally:
        engine.dispose()
        other.dispose()


def test_dispatch_keeps_at_most_max_in_flight_items_queued_or_running(
    repo: Repository, tmp_path: Path
) -> None:
    # Given five pending items and room for three in flight
    add(repo, *(finding(f"Item {n}") for n in range(5)))
    settings = replace(settings_for(tmp_path), max_in_flight=3)

    # When two ticks run without anything finishing in between
    first = dispatch_tick(repo, jobs_from(tmp_path), settings, ignore_idle=True, now=NOW)
    second = dispatch_tick(repo, jobs_from(tmp_path), settings, ignore_idle=True, now=NOW)

    # Then the backlog waits in the database, not in the broker
    assert (len(first.dispatched), len(second.dispatched)) == (3, 0)
    assert repo.count_by_status() == {"queued": 3, "pending": 2}


def test_items_waiting_for_credentials_wait_until_a_key_is_set(
    repo: Repository, tmp_path: Path
) -> None:
    # Given an item that classify sent to wait for LLM credentials, its retry time passed
    add(repo, finding("Needs an agent"))
    settings = settings_for(tmp_path)
    [d] = dispatch_tick(repo, jobs_from(tmp_path), settings, ignore_idle=True, now=NOW).dispatched
    claim = repo.claim_stage(d.handoff, Stage.CLASSIFY, lease_seconds=60, now=NOW)
    repo.finish_stage(claim, Outcome(Status.WAITING, "waiting", "no key", tier=Tier.CLAUDE_SESSION,
                                     waiting_reason="no_credentials", retry_after_seconds=60),
                      max_review_rounds=3, lease_seconds=60, now=NOW)
    later = NOW + timedelta(hours=2)

    # When ticks run without a key, then it is left alone (no churn of events)
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings, ignore_idle=True, now=later)
    assert tick.dispatched == []

    # When a key is set, then it is dispatched again
    keyed = replace(settings, anthropic_api_key="sk-test")
    tick = dispatch_tick(repo, jobs_from(tmp_path), keyed, ignore_idle=True, now=later)
    assert dispatched_titles(repo, tick) == {"Needs an agent"}


def test_a_run_limited_to_a_repo_dispatches_only_its_items(repo: Repository,
                                                           tmp_path: Path) -> None:
    # Given items found in two repositories
    other = "/src/other"
    fp = fingerprint(other, "TODO.md", "Elsewhere")
    add(repo, finding("Here"))
    repo.upsert_findings("maint", [Finding(
        fingerprint=fp, item_key=item_key("Elsewhere", fp), title="Elsewhere",
        source_file="TODO.md", line=1,
        data={"title": "Elsewhere", "source": "todo_md", "repo": other, "auto_start": True})],
        sources={"todo_md"}, repos=[other], now=NOW)

    # When a run limited to the first (run-once --repo) dispatches
    tick = dispatch_tick(repo, jobs_from(tmp_path), settings_for(tmp_path), ignore_idle=True,
                         now=NOW, repos=[REPO])

    # Then only its item goes; the other one stays pending for a run that covers its repo
    assert dispatched_titles(repo, tick) == {"Here"}
    assert statuses(repo)["Elsewhere"] is Status.PENDING
