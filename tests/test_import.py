"""Importing a helm autodo queue.yaml into the store: statuses, retries, conflicts, the CLI.

Store tests run on SQLite and on Postgres (the `repo` fixture); CLI tests run the real command.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from helmq.domain.item import Outcome
from helmq.domain.model import Status
from helmq.grammar.queue_yaml import parse_queue
from helmq.store.importing import import_queue, record_values
from helmq.store.repository import Repository
from tests.conftest import helmq_env, make_git_repo, run_helmq

JOB = "maint"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def queue(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queue.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def records(tmp_path: Path, text: str):
    parsed = parse_queue(queue(tmp_path, text))
    assert parsed.errors == []
    return parsed.records


# --- statuses and retries -----------------------------------------------------------------


def test_needs_work_and_running_entries_import_as_pending(tmp_path: Path) -> None:
    got = [record_values(r)["status"] for r in records(tmp_path, """\
        - {id: a, title: A, status: needs_work}
        - {id: b, title: B, status: running}
        - {id: c, title: C, status: executing}
        - {id: d, title: D, status: blocked}
        - {id: e, title: E, status: done}
        """)]

    assert got == ["pending", "pending", "pending", "waiting", "done"]


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


def test_migrate_queue_reports_duplicate_fingerprints_and_imports_the_rest(tmp_path):
    # Given a discovered item and a queue whose entries clash with it and with each other
    app = make_git_repo(tmp_path / "app", {"TODO.md": "- [ ] Found by a scan\n"})
    env = helmq_env(tmp_path)
    assert run_helmq(["scan", "--repo", str(app)], env).returncode == 0
    [found] = json.loads(run_helmq(["items", "--json"], env).stdout)
    path = queue(tmp_path, f"""\
        - {{id: one, title: One, fingerprint: dup}}
        - {{id: two, title: Two, fingerprint: dup}}
        - {{id: clash, title: Clash, fingerprint: {found["fingerprint"]}}}
        - {{id: last, title: Last}}
        """)

    # When it is imported
    out = run_helmq(["migrate-queue", str(path), "--json"], env)

    # Then the clashing entries are reported by key, exit 1, and the others are imported
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    assert (result["new"], result["entries"]) == (2, 4)
    assert len(result["errors"]) == 2
    two, clash = result["errors"]
    assert "'two'" in two and "'one'" in two
    assert "'clash'" in clash and found["item_key"] in clash
    keys = {i["item_key"] for i in json.loads(run_helmq(["items", "--json"], env).stdout)}
    assert keys == {found["item_key"], "one", "last"}

    # And importing again reports the same and changes nothing
    again = json.loads(run_helmq(["migrate-queue", str(path), "--json"], env).stdout)
    assert (again["new"], again["unchanged"], len(again["errors"])) == (0, 2, 2)


def test_migrate_queue_with_an_unknown_job_is_a_usage_error(tmp_path):
    path = queue(tmp_path, "- {id: a, title: A}\n")
    env = helmq_env(tmp_path)

    out = run_helmq(["migrate-queue", str(path), "--job", "nope"], env)

    assert out.returncode == 2
    assert "--job" in out.stderr and "'nope'" in out.stderr and "codebase_maintenance" in out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(run_helmq(["items", "--json"], env).stdout) == []
