"""The UI's jobs file, settings, items and in-process app: shared by the UI tests of every
tier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from helmq.config.jobs import load_jobs
from helmq.config.settings import EMBEDDED_BROKER, Settings
from helmq.discovery.registry import STRATEGIES
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.jobs import JobsConfig
from helmq.domain.model import Finding, Status
from helmq.store.repository import Repository
from helmq.store.schema import work_items
from helmq.web import create_app

TOKEN = "t0k-for-tests"
API_KEY = "sk-ant-never-shown"
INTERNAL, EXTERNAL = "maint", "feeds"
JOBS_YAML = f"""\
jobs:
  {INTERNAL}:
    internal: true
    emoji: "🔧"
    discovery: {{ strategy: autodo_scan }}
  {EXTERNAL}:
    emoji: "📰"
    discovery: {{ strategy: autodo_scan }}
  frozen:
    paused: true
"""


def jobs_config(tmp_path: Path, repos: list[Path] | None = None) -> JobsConfig:
    text = JOBS_YAML
    if repos:
        text = "repos: [" + ", ".join(str(r) for r in repos) + "]\n" + text
    path = tmp_path / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    return load_jobs(path, strategies=STRATEGIES)


def settings_for(tmp_path: Path, db_url: str, token: str | None = TOKEN, **kw: Any) -> Settings:
    kw.setdefault("broker_url", EMBEDDED_BROKER)
    return Settings(state_dir=tmp_path / "state", database_url=db_url,
                    config_path=tmp_path / "jobs.yaml", last_active_path=tmp_path / "la.json",
                    ui_token=token, anthropic_api_key=API_KEY, **kw)


def add(repo: Repository, job: str, title: str, *, status: Status = Status.PENDING,
        **columns: Any) -> int:
    """An item found by discovery (so it has its `discovered` event), then set as given."""
    # One repo per item: a pass over one repo would mark the others' items gone.
    src = f"/src/{title.encode().hex()[:40]}"
    fp = fingerprint(src, "TODO.md", title)
    base = {"title": title, "source": "todo_md", "repo": src}
    repo.upsert_findings(job, [Finding(fingerprint=fp, item_key=item_key(title, fp), title=title,
                                       source_file="TODO.md", line=3, data=base)],
                         sources={"todo_md"}, repos=[src])
    with repo.engine.begin() as conn:
        item_id = conn.execute(work_items.select().where(work_items.c.job == job,
                                                         work_items.c.fingerprint == fp)
                               ).mappings().one()["id"]
        data = columns.pop("data", None)
        values: dict[str, Any] = {"status": status, **columns}
        if data is not None:
            values["data"] = {**base, **data}
        conn.execute(update(work_items).where(work_items.c.id == item_id).values(**values))
    return item_id


@pytest.fixture(name="env")
def ui_env(tmp_path: Path, repo: Repository, db_url: str) -> Iterator[dict[str, Any]]:
    settings = settings_for(tmp_path, db_url)
    settings.state_dir.mkdir(parents=True)
    app = create_app(settings, repo=repo, jobs=jobs_config(tmp_path))
    with TestClient(app) as client:
        yield {"client": client, "repo": repo, "settings": settings, "app": app,
               "db_url": db_url, "tmp": tmp_path}
