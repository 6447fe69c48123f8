"""Shared fixtures: real Postgres (a database cloned per test from a migrated template),
real Redis, real git repositories and real `celery worker` processes.

Every test lives in a tier folder and is marked with its tier (`-m unit`, `-m integration`,
`-m acceptance`): tests/unit needs no server, tests/integration runs on Postgres, Redis and git
in process, tests/acceptance runs real workers, the helmq CLI, celery and the browser. The
folders' conftest.py files refuse what their tier may not use."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from helmq.store.engine import make_engine, upgrade
from helmq.store.repository import Repository

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
"""The tests folder: its data (corpus/, corpus_feeds/) and fake_anthropic.py live here."""
PG_BASE = os.environ.get("HELMQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("HELMQ_TEST_REDIS", "redis://127.0.0.1:6379/14")
TEMPLATE = f"helmq_tmpl_{os.getpid()}"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}


TIERS = ("unit", "integration", "acceptance")
UNIT_TEST_TIMEOUT = 10
"""Seconds one unit test may take (pytest-timeout); the whole folder must stay under 30 s."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, the folder under tests/ it is in; a test outside the
    tier folders is a usage error."""
    stray = []
    for item in items:
        try:
            folder = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if folder not in TIERS:
            stray.append(item.nodeid)
            continue
        item.add_marker(folder)
        if folder == "unit":
            item.add_marker(pytest.mark.timeout(UNIT_TEST_TIMEOUT))
    if stray:
        raise pytest.UsageError(
            f"tests belong in tests/unit, tests/integration or tests/acceptance: {stray[:5]}")


def _admin():
    return create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database for this test session."""
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    engine = make_engine(f"{PG_BASE}/{TEMPLATE}")
    upgrade(engine)
    engine.dispose()
    yield TEMPLATE
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated Postgres database for one test."""
    name = f"helmq_t_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield f"{PG_BASE}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'helmq.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "pg"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite (embedded default) and on Postgres (deployment)."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def repo(db_url: str) -> Iterator[Repository]:
    engine = make_engine(db_url)
    yield Repository(engine)
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    """A Redis database emptied for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` as a test user; returns stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout


def git_repo(path: Path) -> Path:
    """An empty git repository at `path` (nothing committed)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    return path


def write(path: Path, text: str | bytes) -> Path:
    """Write `text` to `path`, creating its folders; bytes are written as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def make_git_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository at `root` with `files` committed on `main`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file outside .git with its bytes, to prove a working tree was not touched."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


MAINTENANCE_ONLY = """\
jobs:
  codebase_maintenance:
    internal: true
    discovery: { strategy: autodo_scan, interval: 3600 }
    eligibility:
      require_user_idle_minutes: 15
      data_filter: { risk: [low, null] }
"""
"""The built-in default's maintenance job alone: what most CLI tests are about."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def helmq_env(tmp_path: Path, *, default_jobs: bool = False, **extra: str) -> dict[str, str]:
    """An environment for helmq processes isolated under `tmp_path`.

    Without a HELMQ_CONFIG of the test's own, helmq runs the maintenance job alone, unless
    `default_jobs` asks for the built-in default (which also has doc_health)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELMQ_", "ANTHROPIC_"))}
    env.update(
        HELMQ_STATE_DIR=str(tmp_path / "state"),
        HELMQ_LAST_ACTIVE=str(tmp_path / "last_active.json"),
        PYTHONPATH=str(ROOT),
    )
    if not default_jobs and "HELMQ_CONFIG" not in extra:
        config = tmp_path / "maintenance-jobs.yaml"
        config.write_text(MAINTENANCE_ONLY, encoding="utf-8")
        env["HELMQ_CONFIG"] = str(config)
    env.update(extra)
    return env


def run_helmq(args: list[str], env: dict[str, str], cwd: Path | None = None,
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the real `helmq` command as a subprocess."""
    return subprocess.run([sys.executable, "-m", "helmq.cli.main", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


class WorkerProcess:
    """A real `celery -A tasks worker` subprocess."""

    def __init__(self, queues: str, env: dict[str, str], log: Path, concurrency: int = 1,
                 pool: str = "prefork") -> None:
        self.log = log
        self.name = f"{queues.replace(',', '-')}-{uuid.uuid4().hex[:6]}@localhost"
        self._fh = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queues,
             "-c", str(concurrency), "-P", pool, "-n", self.name, "-l", "INFO",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=self._fh, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._fh.close()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:
    """Start real worker processes; all are stopped after the test."""
    started: list[WorkerProcess] = []

    def start(queues: str, env: dict[str, str], **kw) -> WorkerProcess:
        w = WorkerProcess(queues, env, tmp_path / f"worker-{len(started)}.log", **kw)
        started.append(w)
        w.wait_ready()
        return w

    yield start
    for w in started:
        w.stop()
