"""`helmq migrate-queue` as a process: duplicates are reported, an unknown job is a usage
error."""

from __future__ import annotations

import json

from tests.conftest import helmq_env, make_git_repo, run_helmq
from tests.support.import_queue import queue


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
