"""`helmq scan` as a process keeps its scan cache in the state dir."""

from __future__ import annotations

import json

from tests.conftest import helmq_env, make_git_repo, run_helmq
from tests.support.scan_cache import FILES


def test_helmq_scan_keeps_its_cache_in_the_state_dir(tmp_path):
    repo = make_git_repo(tmp_path / "repo", FILES)
    env = helmq_env(tmp_path)
    out = run_helmq(["scan", "--repo", str(repo), "--json"], env)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "state" / "scan-cache").glob("*/*.json"))) == 1
    again = run_helmq(["scan", "--repo", str(repo), "--json"], env)
    assert again.returncode == 0, again.stderr
    [scan] = json.loads(again.stdout)
    assert scan["new"] == 0 and scan["gone"] == 0
