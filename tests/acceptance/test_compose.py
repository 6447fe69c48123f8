"""docker-compose.yml: every service's own command run as a local process against the test's
Postgres and Redis (there is no Docker engine here), driving one item to done and reading its
tasks back from Flower's API. Its topology as data is checked in tests/unit/test_compose.py."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from tests.conftest import PG_BASE, free_port, helmq_env, make_git_repo
from tests.support.compose import STATE_DIR, interpolate, long_running, option, raw_compose, workers

LINK_TITLE = "Fix broken links in docs"
DOCS = {
    "TODO.md": f"# Maintenance\n- [ ] {LINK_TITLE}\n",
    "docs/index.md": "# Docs\n\nStart with [setup](setup.md).\n",
    "docs/guide/setup.md": "# Setup\n",
}


# --- the services as local processes ------------------------------------------------------


class LocalCompose:
    """Runs compose services' commands and healthchecks as local processes.

    What a container would have is translated: the state volume, jobs.yaml and the repos
    mount become directories of the test, `postgres`/`redis` URLs become the test servers,
    published ports become free local ports, `%h` and $HOSTNAME a name unique to the test.
    Each process gets a session of its own so that it is stopped with all its children."""

    def __init__(self, compose: dict[str, Any], tmp: Path, *, database_url: str,
                 broker_url: str, jobs_yaml: Path, extra_env: dict[str, str]) -> None:
        self.compose, self.tmp = compose, tmp
        self.database_url, self.broker_url = database_url, broker_url
        self.jobs_yaml, self.extra_env = jobs_yaml, extra_env
        self.host = f"compose-{uuid.uuid4().hex[:8]}"
        self.ports: dict[str, int] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.bin = tmp / "bin"
        self.bin.mkdir()
        # `helmq`, `celery` and `python` in commands are this interpreter's, as in the image
        for tool, run in {"helmq": "-m helmq.cli", "celery": "-m celery", "python": ""}.items():
            shim = self.bin / tool
            shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {run} "$@"\n')
            shim.chmod(0o755)
        for svc in compose["services"].values():
            for mapping in svc.get("ports", []):
                container = mapping.rsplit(":", 1)[1]
                self.ports.setdefault(container, free_port())

    def container_path(self, value: str) -> str:
        mounts = {STATE_DIR: self.tmp / "state", "/etc/helmq/jobs.yaml": self.jobs_yaml,
                  "/repos": self.tmp / "repos", "/coord": self.tmp / "coord"}
        for inside, outside in mounts.items():
            if value == inside or value.startswith(inside + "/"):
                return str(outside) + value[len(inside):]
        return value

    def env(self, name: str) -> dict[str, str]:
        env = helmq_env(self.tmp, HELMQ_CONFIG=str(self.jobs_yaml))
        for key, value in (self.compose["services"][name].get("environment") or {}).items():
            value = str(value)
            if key == "HELMQ_DATABASE_URL":
                assert "@postgres:5432/" in value, value
                value = self.database_url
            elif key == "HELMQ_BROKER_URL":
                assert value.startswith("redis://redis:6379/"), value
                value = self.broker_url
            env[key] = self.container_path(value)
        env.update(self.extra_env, HOSTNAME=self.host,
                   PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}")
        return env

    def translate(self, text: str) -> str:
        text = text.replace("%h", self.host).replace("0.0.0.0", "127.0.0.1")
        for container, local in self.ports.items():
            text = re.sub(rf"\b{container}\b", str(local), text)
        return text

    def argv(self, name: str) -> list[str]:
        return [self.translate(a) for a in shlex.split(self.compose["services"][name]["command"])]

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start(self, name: str) -> None:
        with open(self.log(name), "wb") as out:
            self.procs[name] = subprocess.Popen(
                self.argv(name), env=self.env(name), cwd=self.tmp, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    def run(self, name: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(name), env=self.env(name), cwd=self.tmp,
                              capture_output=True, text=True, timeout=timeout)

    def healthy(self, name: str) -> bool:
        """Whether the service's own healthcheck passes now."""
        test = self.compose["services"][name]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            argv = ["sh", "-c", self.translate(test[1])]
        else:
            assert test[0] == "CMD", test
            argv = [self.translate(a) for a in test[1:]]
        try:
            return subprocess.run(argv, env=self.env(name), cwd=self.tmp, timeout=30,
                                  capture_output=True).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def wait_healthy(self, names: list[str], deadline: float) -> None:
        def wait(name: str) -> None:
            ready_line = b"ready." if name in workers(self.compose) else None
            while time.monotonic() < deadline:
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"{name} exited: {self.tail(name)}")
                # a worker pinged before it is up costs the ping's whole timeout
                if (ready_line is None or ready_line in self.log(name).read_bytes()) \
                        and self.healthy(name):
                    return
                time.sleep(0.5)
            raise AssertionError(f"{name} is not healthy: {self.tail(name)}")

        with ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(wait, names))

    def tail(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL whatever is left after 20 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # stray children too
            except ProcessLookupError:
                pass
            proc.wait(5)


def http(url: str, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check, deadline: float, every: float = 0.5):
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A new, empty Postgres database: what `migrate` finds on a first `docker compose up`."""
    name = f"helmq_c_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_BASE}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow
def test_compose_services_run_locally_and_take_an_item_to_done(tmp_path, empty_pg_url,
                                                                redis_url):
    # Given a repo with a broken link and a TODO.md entry asking to fix it
    make_git_repo(tmp_path / "repos" / "app", DOCS)
    jobs_yaml = tmp_path / "jobs.yaml"
    jobs_yaml.write_text(f"""repos: [{tmp_path / 'repos' / 'app'}]
jobs:
  codebase_maintenance:
    internal: true
    discovery: {{strategy: autodo_scan, interval: 1}}
    eligibility: {{require_user_idle_minutes: 15}}
""", encoding="utf-8")
    # And the compose file with the secrets an operator's .env would give it
    login = ("admin", secrets.token_urlsafe(12))
    compose = interpolate(raw_compose(), {"POSTGRES_PASSWORD": secrets.token_urlsafe(12),
                                          "FLOWER_USER": login[0], "FLOWER_PASSWORD": login[1]})
    local = LocalCompose(compose, tmp_path, database_url=empty_pg_url, broker_url=redis_url,
                         jobs_yaml=jobs_yaml,
                         extra_env={"HELMQ_DISPATCH_INTERVAL": "1",
                                    "HELMQ_RECONCILE_INTERVAL": "5"})
    services = long_running(compose)
    flower = f"http://127.0.0.1:{local.ports['5555']}"
    engine = make_engine(empty_pg_url)
    try:
        # When migrate runs to completion, then every long-running service starts, beat last
        migrated = local.run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        deadline = time.monotonic() + 90
        for name in services:
            if name != "beat":
                local.start(name)
        local.wait_healthy([n for n in services if n != "beat"], deadline)
        # Flower receives the workers' events before there is any work
        nodes = [option(argv, "-n").replace("%h", local.host) for argv in workers(compose).values()]

        def flower_sees_workers() -> bool:
            metrics = http(f"{flower}/metrics")[1].decode()
            return all(f'flower_worker_online{{worker="{n}"}} 1.0' in metrics for n in nodes)

        wait_for("flower to see every worker's heartbeat", flower_sees_workers, deadline)
        local.start("beat")
        local.wait_healthy(["beat"], deadline)

        # Then beat alone discovers the item and the workers take it through the chain
        store = Repository(engine)

        def link_done():
            found = [i for i in store.list_items() if i.title == LINK_TITLE]
            return found[0] if found and found[0].status == "done" else None

        item = wait_for("the link item to be done", link_done, deadline)
        runs = store.item_stage_runs(item.id)
        assert [(r["stage"], r["worker"], r["outcome"]) for r in runs] == [
            ("classify", f"llm@{local.host}", "ok"),
            ("execute", f"script@{local.host}", "ok"),
            ("review", f"llm@{local.host}", "accepted")]
        assert item.branch == f"helmq/{item.item_key}"
        assert (tmp_path / "state" / "reports").is_dir()

        # And Flower's API, behind its login, reports those three tasks as succeeded
        assert http(f"{flower}/api/tasks")[0] == 401
        assert http(f"{flower}/api/tasks", ("admin", "wrong"))[0] == 401
        task_ids = {r["task_id"]: r["stage"] for r in runs}

        def flower_tasks():
            status, body = http(f"{flower}/api/tasks", login)
            assert status == 200, body
            tasks = json.loads(body)
            seen = {t: tasks[t] for t in task_ids if tasks.get(t, {}).get("state") == "SUCCESS"}
            return seen if len(seen) == len(task_ids) else None

        seen = wait_for("flower to report the item's tasks", flower_tasks,
                        time.monotonic() + 15)
        assert {seen[t]["name"] for t in seen} == {
            f"helmq.{stage}" for stage in task_ids.values()}
        for task_id, stage in task_ids.items():
            assert f"'item': {item.id}," in seen[task_id]["args"]
            assert seen[task_id]["worker"] == (
                f"script@{local.host}" if stage == "execute" else f"llm@{local.host}")
        # And the UI answers on its published port
        assert http(f"http://127.0.0.1:{local.ports['8765']}/healthz")[0] == 200
    except BaseException:
        for name in local.procs:
            print(f"--- {name} ---\n{local.tail(name)}")
        raise
    finally:
        local.stop()
        engine.dispose()
    assert all(p.poll() is not None for p in local.procs.values())
