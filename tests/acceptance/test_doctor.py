"""`helmq doctor` as a process: its JSON, exit codes and `--fix`."""

from __future__ import annotations

import json

from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from tests.conftest import helmq_env, run_helmq
from tests.support.doctor import HOUR, NOW, add_items, queue_all


def test_cli_doctor_json_exit_codes_and_fix(tmp_path):
    env = helmq_env(tmp_path)
    healthy = run_helmq(["doctor", "--json"], env)
    assert healthy.returncode == 0, healthy.stderr
    doc = json.loads(healthy.stdout)
    assert doc["healthy"] is True
    assert {"name", "severity", "count", "ids", "summary", "advice"} <= set(doc["findings"][0])
    assert {f["name"]: f["severity"] for f in doc["findings"]}["scan:codebase_maintenance"] \
        == "warn"

    # Given an item left in flight with an expired lease in the CLI's own database
    engine = make_engine(f"sqlite:///{tmp_path / 'state' / 'helmq.db'}")
    repo = Repository(engine)
    add_items(repo, "cli stuck", at=NOW - 3 * HOUR, job="codebase_maintenance")
    [d] = queue_all(repo, NOW - 2 * HOUR, job="codebase_maintenance")
    engine.dispose()

    # When the doctor looks, it fails with exit 1 and says so in text
    sick = run_helmq(["doctor"], env)
    assert sick.returncode == 1, sick.stderr
    assert "✗ stuck: 1 queued" in sick.stdout and sick.stdout.rstrip().endswith("unhealthy")

    # When --fix runs on the embedded default, it re-queues the item in the database
    fixed = run_helmq(["doctor", "--fix", "--json"], env)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    doc = json.loads(fixed.stdout)
    assert doc["healthy"] is True
    assert any(f"#{d.handoff['item']}" in line for line in doc["fixed"])
