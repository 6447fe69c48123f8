"""Discovery passes as `helmq scan` runs them: the conventions strategy, job-level recurrence,
the scan record, and the progress line."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helmq.config.jobs import load_jobs
from helmq.control.progress import ProgressLine
from helmq.control.scan import scan_jobs
from helmq.discovery.registry import STRATEGIES
from helmq.domain.model import Recurrence
from helmq.errors import ConfigError
from helmq.store.repository import Repository
from helmq.store.schema import item_events, scans, work_items
from tests.conftest import helmq_env, make_git_repo, run_helmq, write

CONVENTIONS = """\
jobs:
  conv:
    discovery:
      strategy: conventions
      recurrence: daily
      rules:
        - name: no-print
          forbid: '^\\s*print\\('
          files: ['*.py']
          exclude: ['tests/*']
          message: use logging instead of print
        - name: license
          require_file: LICENSE
        - name: short-modules
          max_lines: 5
          files: '*.py'
"""


def jobs_from(tmp_path: Path, text: str):
    config = write(tmp_path / "jobs.yaml", text)
    return load_jobs(config, strategies=STRATEGIES)


def table_counts(repo: Repository) -> dict[str, int]:
    with repo.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (work_items, item_events, scans)}


def snapshot(repo: Repository) -> list[tuple]:
    with repo.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(work_items).order_by(work_items.c.id))]


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "app", {
        "app/main.py": "import os\nprint('hi')\n",
        "app/long.py": "".join(f"x{i} = {i}\n" for i in range(8)),
        "app/clean.py": "VALUE = 1\n",
        "tests/test_main.py": "print('tests may print')\n",
        "README.md": "print( not code\n",
    })


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


@pytest.mark.parametrize(("rules", "message"), [
    ("rules: []", "expected a non-empty list of rules"),
    ("rules: [{name: x}]", "a rule needs exactly one of forbid, require_file, max_lines"),
    ("rules: [{name: x, forbid: 'a', max_lines: 3}]", "(it has forbid, max_lines)"),
    ("rules: [{name: x, forbid: '('}]", "invalid regular expression"),
    ("rules: [{name: x, require_file: ../etc/passwd}]", "a path inside the repo"),
    ("rules: [{name: x, max_lines: 0}]", "expected a whole number > 0"),
    ("rules: [{name: x, max_lines: 3}, {name: x, max_lines: 4}]", "rule name 'x' is used twice"),
    ("rules: [{forbid: a}]", "missing key 'name'"),
    ("rules: [{name: x, forbid: a, colour: red}]", "unknown key 'colour'"),
])
def test_bad_conventions_rules_name_file_line_and_key(tmp_path: Path, rules: str, message: str):
    with pytest.raises(ConfigError) as caught:
        jobs_from(tmp_path, f"jobs:\n  conv:\n    discovery:\n      strategy: conventions\n"
                            f"      {rules}\n")
    assert message in str(caught.value)
    assert "jobs.yaml" in str(caught.value) and ":5" in str(caught.value)


def test_rules_only_for_conventions_and_recurrence_checked(tmp_path: Path):
    with pytest.raises(ConfigError, match="only the conventions strategy takes rules"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: autodo_scan, "
                            "rules: [{name: x, max_lines: 3}]}\n")
    with pytest.raises(ConfigError, match="expected one of: daily, weekly, got 'hourly'"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: autodo_scan, "
                            "recurrence: hourly}\n")
    with pytest.raises(ConfigError, match="needs a list of rules"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: conventions}\n")


def test_progress_line_is_silent_for_short_work_and_shows_long_work():
    quiet = io.StringIO()
    with ProgressLine(quiet, delay=5.0, tick=0.01) as line:
        line.update("scanning a")
    assert quiet.getvalue() == ""

    log = io.StringIO()
    with ProgressLine(log, delay=0.0, tick=0.01, every=60) as line:
        line.update("scanning job: /repo/a (1/2)")
        time.sleep(0.05)
        line.update("scanning job: /repo/b (2/2)")
        time.sleep(0.05)
    lines = log.getvalue().splitlines()
    # a plain stream gets one line per step, not one per tick
    assert [ln.split(" … ")[0] for ln in lines] == ["scanning job: /repo/a (1/2)",
                                                    "scanning job: /repo/b (2/2)"]


def test_progress_line_rewrites_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with ProgressLine(tty, delay=0.0, tick=0.01) as line:
        line.update("scanning a long name")
        time.sleep(0.03)
        line.update("scanning b")
        time.sleep(0.03)
    out = tty.getvalue()
    assert "\n" not in out and out.count("\r") >= 3
    assert out.endswith("\r")  # the line is erased at the end


def test_scan_reports_each_repo_to_progress(repo: Repository, tmp_path: Path, app_repo: Path):
    other = make_git_repo(tmp_path / "other", {"LICENSE": "MIT\n"})
    seen = []
    scan_jobs(repo, jobs_from(tmp_path, CONVENTIONS), repos=[app_repo, other],
              progress=lambda *args: seen.append(args))
    assert seen == [("conv", app_repo, 0, 2), ("conv", other, 1, 2)]


def test_helmq_scan_json_counts_conventions(tmp_path: Path, app_repo: Path):
    config = write(tmp_path / "jobs.yaml", CONVENTIONS)
    env = helmq_env(tmp_path, HELMQ_CONFIG=str(config))
    out = run_helmq(["scan", "--repo", str(app_repo), "--json"], env)
    assert out.returncode == 0, out.stderr
    [job] = json.loads(out.stdout)
    assert (job["job"], job["new"]) == ("conv", 3)
