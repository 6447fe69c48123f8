"""`helmq scan --json` as a process, on the conventions strategy."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import helmq_env, run_helmq, write
from tests.support.scanning import (
    CONVENTIONS,
    app_repo_fixture,  # noqa: F401 - the `app_repo` fixture
)


def test_helmq_scan_json_counts_conventions(tmp_path: Path, app_repo: Path):
    config = write(tmp_path / "jobs.yaml", CONVENTIONS)
    env = helmq_env(tmp_path, HELMQ_CONFIG=str(config))
    out = run_helmq(["scan", "--repo", str(app_repo), "--json"], env)
    assert out.returncode == 0, out.stderr
    [job] = json.loads(out.stdout)
    assert (job["job"], job["new"]) == ("conv", 3)
