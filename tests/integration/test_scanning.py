"""Discovery passes as `helmq scan` runs them: the conventions strategy, job-level recurrence,
the scan record, and the progress line."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from helmq.control.scan import scan_jobs
from helmq.domain.model import Recurrence
from helmq.store.repository import Repository
from helmq.store.schema import item_events, scans, work_items
from tests.conftest import make_git_repo, write
from tests.support.scanning import (
    CONVENTIONS,
    app_repo_fixture,  # noqa: F401 - the `app_repo` fixture
    jobs_from,
)


def table_counts(repo: Repository) -> dict[str, int]:
    with repo.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (work_items, item_events, scans)}


def snapshot(repo: Repository) -> list[tuple]:
    with repo.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(work_items).order_by(work_items.c.id))]


def test_conventions_finds_each_violation_once(repo: Repository, tmp_path: Path, app_repo: Path):
    jobs = jobs_from(tmp_path, CONVENTIONS)
    [scan] = scan_jobs(repo, jobs, repos=[app_repo])
    assert scan.counts.new == 3
    found = {i.title: i for i in repo.list_items(jobs=["conv"])}
    assert set(found) == {
        "no-print: app/main.py matches /^\\s*print\\(/ (1 line)",
        "license: LICENSE is missing",
        "short-modules: app/long.py has 8 lines (at most 5)",
    }
    printed = found["no-print: app/main.py matches /^\\s*print\\(/ (1 line)"]
    assert (printed.source_file, printed.line) == ("app/main.py", 2)
    assert printed.data["rule"] == "no-print" and printed.data["source"] == "conventions"
    assert printed.data["description"] == "use logging instead of print"
    # the job's recurrence is given to every item it finds
    assert {i.recurrence for i in found.values()} == {Recurrence.DAILY}


def test_conventions_fixed_file_goes_and_new_violation_comes(repo: Repository, tmp_path: Path,
                                                             app_repo: Path):
    jobs = jobs_from(tmp_path, CONVENTIONS)
    scan_jobs(repo, jobs, repos=[app_repo], cache_dir=tmp_path / "cache")
    write(app_repo / "app" / "main.py", "import logging\n")
    write(app_repo / "app" / "clean.py", "VALUE = 1\n\nprint(VALUE)\n")
    write(app_repo / "LICENSE", "MIT\n")
    [scan] = scan_jobs(repo, jobs, repos=[app_repo], cache_dir=tmp_path / "cache")
    assert (scan.counts.new, scan.counts.gone) == (1, 2)
    live = {i.source_file for i in repo.list_items(jobs=["conv"]) if i.status != "gone"}
    assert live == {"app/clean.py", "app/long.py"}


def test_unchanged_rescan_writes_only_a_scan_record(repo: Repository, tmp_path: Path,
                                                    app_repo: Path):
    jobs = jobs_from(tmp_path, CONVENTIONS)
    write(app_repo / "TODO.md", "- [ ] write docs\n")
    scan_jobs(repo, jobs, repos=[app_repo], cache_dir=tmp_path / "cache")
    before, rows = table_counts(repo), snapshot(repo)
    [again] = scan_jobs(repo, jobs, repos=[app_repo], cache_dir=tmp_path / "cache")
    assert again.counts.unchanged == 3 and again.counts.new == again.counts.updated == 0
    after = table_counts(repo)
    assert after == before | {"scans": before["scans"] + 1}
    assert snapshot(repo) == rows  # not even updated_at moved
    [latest, first] = repo.recent_scans("conv")
    assert latest["counts"]["unchanged"] == 3 and first["counts"]["new"] == 3
    assert latest["strategy"] == "conventions" and latest["repos"] == [str(app_repo)]
    assert latest["finished_at"] >= latest["started_at"]


def test_two_jobs_over_one_repo_keep_separate_caches(repo: Repository, tmp_path: Path,
                                                     app_repo: Path):
    jobs = jobs_from(tmp_path, CONVENTIONS + """\
  todo:
    discovery: { strategy: autodo_scan }
""")
    write(app_repo / "app" / "main.py", "# TODO: drop print\nprint('hi')\n")
    cache = tmp_path / "cache"
    scan_jobs(repo, jobs, repos=[app_repo], cache_dir=cache)
    assert sorted(p.parent.name for p in cache.glob("*/*.json")) == ["conv", "todo"]
    scans = {s.job: s.counts for s in scan_jobs(repo, jobs, repos=[app_repo], cache_dir=cache)}
    assert scans["conv"].unchanged == 3 and scans["todo"].unchanged == 1


def test_scan_reports_each_repo_to_progress(repo: Repository, tmp_path: Path, app_repo: Path):
    other = make_git_repo(tmp_path / "other", {"LICENSE": "MIT\n"})
    seen = []
    scan_jobs(repo, jobs_from(tmp_path, CONVENTIONS), repos=[app_repo, other],
              progress=lambda *args: seen.append(args))
    assert seen == [("conv", app_repo, 0, 2), ("conv", other, 1, 2)]
