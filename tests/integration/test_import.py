"""Importing a helm autodo queue.yaml into the store: statuses, retries, conflicts.

Store tests run on SQLite and on Postgres (the `repo` fixture); the CLI's tests, which run the
real command, are in tests/acceptance/test_import.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from helmq.domain.model import Status
from helmq.domain.outcome import Outcome
from helmq.store.importing import import_queue
from helmq.store.repository import Repository
from tests.support.import_queue import records

JOB = "maint"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_imported_waiting_and_needs_work_items_are_dispatched(
    repo: Repository, tmp_path: Path
) -> None:
    # Given a queue with a blocked entry and one review sent back
    import_queue(repo, JOB, records(tmp_path, """\
        - {id: blocked-one, title: Blocked, status: blocked}
        - {id: again, title: Again, status: needs_work}
        """))

    # When the dispatcher runs
    got = repo.claim_eligible(JOB, accept=lambda item: True, limit=10, lease_seconds=60)

    # Then both are picked up: the waiting one is due, the other is pending
    assert got is not None
    assert sorted(repo.get_item(d.handoff["item"]).item_key for d in got) == [
        "again", "blocked-one"]


# --- idempotence --------------------------------------------------------------------------


def test_importing_a_queue_twice_after_the_pipeline_ran_changes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    # Given an imported queue whose item the pipeline has since written results for
    entries = records(tmp_path, """\
        - {id: audit, title: Audit deps, recurrence: weekly, status: todo,
           last_completed: "2029-12-01T08:00:00Z", owner: ops}
        """)
    import_queue(repo, JOB, entries)
    [d] = repo.claim_eligible(JOB, accept=lambda item: True, limit=1, lease_seconds=60, now=T0)
    claim = repo.claim_stage(d.handoff, d.stage, lease_seconds=60, now=T0)
    repo.finish_stage(claim, Outcome(Status.FAILED, "failed", "no", failure_class="x",
                                     data={"classify": {"tier": "script"}}),
                      max_review_rounds=3, lease_seconds=60, now=T0)
    before = repo.get_item("audit")

    # When the same queue is imported again
    result = import_queue(repo, JOB, entries)

    # Then it is unchanged, stage results included
    assert repo.get_item("audit") == before
    assert result.counts == {"new": 0, "updated": 0, "unchanged": 1} and result.errors == []
    assert before.data["classify"] == {"tier": "script"} and before.data["owner"] == "ops"


# --- conflicts ----------------------------------------------------------------------------


def test_a_duplicate_fingerprint_is_reported_and_the_rest_imported(
    repo: Repository, tmp_path: Path
) -> None:
    result = import_queue(repo, JOB, records(tmp_path, """\
        - {id: first, title: First, fingerprint: same}
        - {id: second, title: Second, fingerprint: same}
        - {id: third, title: Third}
        """))

    assert result.counts == {"new": 2, "updated": 0, "unchanged": 0}
    [error] = result.errors
    assert "'second'" in error and "'first'" in error and "same" in error
    assert {i.item_key for i in repo.list_items()} == {"first", "third"}
