"""The JSON API against `helmq items --json` run as a process."""

from __future__ import annotations

import json

from helmq.domain.model import Status
from tests.conftest import helmq_env, run_helmq
from tests.support.ui import (
    EXTERNAL,
    INTERNAL,
    add,
    ui_env,  # noqa: F401 - the `env` fixture
)

# --- JSON API -----------------------------------------------------------------------------


def test_api_items_gives_the_fields_of_items_json(env, tmp_path) -> None:
    repo = env["repo"]
    add(repo, INTERNAL, "One", status=Status.FAILED, failure_class="check_failed", tier="script")
    add(repo, EXTERNAL, "Two", data={"review": {"verdict": "accept"}}, cost_usd=0.5)
    cli_env = helmq_env(tmp_path, HELMQ_DATABASE_URL=env["db_url"],
                        HELMQ_CONFIG=str(tmp_path / "jobs.yaml"))

    out = run_helmq(["items", "--json"], cli_env)

    assert out.returncode == 0, out.stderr
    by_cli = {i["id"]: i for i in json.loads(out.stdout)}
    by_api = {i["id"]: i for i in env["client"].get("/api/items").json()}
    assert by_api == by_cli
    # ?internal= picks a tab, the other filters narrow it
    client = env["client"]
    assert [i["title"] for i in client.get("/api/items?internal=true").json()] == ["One"]
    assert [i["title"] for i in client.get("/api/items?internal=false").json()] == ["Two"]
    assert [i["title"] for i in client.get("/api/items?status=failed&tier=script").json()] == [
        "One"]
    assert client.get("/api/items?internal=maybe").status_code == 400
    assert client.get("/api/items?limit=0").status_code == 400
