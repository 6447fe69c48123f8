"""What `helmq items` and `helmq show` print, read in process on a SQLite state dir."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from helmq.cli.main import main
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.model import Finding, Status
from helmq.store.engine import make_engine, upgrade
from helmq.store.repository import Repository
from helmq.store.schema import stage_runs, work_items

TITLE = "Fix the flaky retry test"
REPO = "/src/shop-api"


@pytest.fixture
def item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """One settled item with a stage run and a report, in a state dir the CLI reads."""
    monkeypatch.chdir(tmp_path)  # no ./jobs.yaml: the built-in jobs
    state = tmp_path / "state"
    state.mkdir()
    db = f"sqlite:///{state / 'helmq.db'}"
    for name, value in {"HELMQ_STATE_DIR": str(state), "HELMQ_DATABASE_URL": db,
                        "HELMQ_CONFIG": "", "HELMQ_LAST_ACTIVE": str(tmp_path / "la.json")
                        }.items():
        monkeypatch.setenv(name, value)
    engine = make_engine(db)
    upgrade(engine)
    repo = Repository(engine)
    fp = fingerprint(REPO, "TODO.md", TITLE)
    key = item_key(TITLE, fp)
    repo.upsert_findings("codebase_maintenance", [Finding(
        fingerprint=fp, item_key=key, title=TITLE, source_file="TODO.md", line=3,
        data={"title": TITLE, "source": "todo_md", "repo": REPO})], sources={"todo_md"},
        repos=[REPO])
    report = state / "reports" / f"{key}.md"
    report.parent.mkdir()
    report.write_text("# Fix the flaky retry test\n\n- verdict: **accepted**\n", encoding="utf-8")
    with engine.begin() as conn:
        item_id = conn.execute(work_items.select()).mappings().one()["id"]
        conn.execute(update(work_items).values(status=Status.DONE, tier="script",
                                               report_path=str(report)))
        conn.execute(insert(stage_runs).values(item_id=item_id, stage="execute", attempt=1,
                                               tier="script", outcome="ok", cost_usd=0.25))
    engine.dispose()
    return {"id": item_id, "key": key}


def test_items_name_each_items_key_and_repository(item, capsys):
    assert main(["items"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert "KEY" in header and "REPO" in header
    assert item["key"] in row and "shop-api" in row and TITLE in row

    assert main(["items", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["repo"], listed["item_key"]) == (REPO, item["key"])


def test_show_prints_the_stage_runs_and_the_report(item, capsys):
    assert main(["show", str(item["id"])]) == 0
    out = capsys.readouterr().out
    assert "stage runs:" in out and "execute" in out and "$0.2500" in out
    assert "verdict: **accepted**" in out


def test_a_settled_weekly_item_is_listed_as_done_with_its_next_due_date(item, capsys):
    # Given a weekly item review settled yesterday, stored as pending until it is due again
    engine = make_engine(os.environ["HELMQ_DATABASE_URL"])
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(update(work_items).values(
            status=Status.PENDING, recurrence="weekly", last_completed=yesterday,
            data={"title": TITLE, "source": "todo_md", "repo": REPO,
                  "review": {"verdict": "reported"}}))
    engine.dispose()
    due = (yesterday + timedelta(days=7)).strftime("%Y-%m-%d")

    # When done items are listed, then it is one, with the date it is next due
    assert main(["items", "--status", "done"]) == 0
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert " done " in row and f"next {due}" in row
    assert main(["items", "--status", "done", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["outcome"], listed["next_due"][:10]) == ("reported", due)
    # and it is no longer among the pending ones a person would think still need work
    assert main(["items", "--status", "pending", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
