"""docker-compose.yml: its topology checked as data (no Docker engine, no process)."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from helmq.domain.model import QUEUES, TIER_QUEUE
from tasks.router import STAGE_QUEUE
from tests.conftest import ROOT
from tests.support.compose import (
    COMPOSE,
    LOCAL_SERVERS,
    STATE_DIR,
    interpolate,
    long_running,
    option,
    raw_compose,
    workers,
)

REQUIRED = {"postgres", "redis", "migrate", "beat", "worker-script", "worker-llm",
            "worker-vario", "worker-claude", "ui", "flower"}


# --- the file as data ----------------------------------------------------------------------


def test_services_volumes_and_dependencies():
    compose = raw_compose()
    services = compose["services"]
    assert set(services) >= REQUIRED
    assert {"pgdata", "helmq-state"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    redis_cmd = shlex.split(services["redis"]["command"])
    assert option(redis_cmd, "--appendonly") == "yes"
    assert option(redis_cmd, "--maxmemory-policy") == "noeviction"
    # migrate runs once; everything of helmq's waits for it to finish, and for healthy servers
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == "helmq db upgrade"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in long_running(compose):
        svc = services[name]
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert svc["build"] == "." and svc["image"] == services["migrate"]["image"], name
        for dep, cond in svc["depends_on"].items():
            wanted = ("service_completed_successfully" if dep == "migrate"
                      else "service_healthy")
            assert cond["condition"] == wanted, (name, dep)
        if name != "flower":  # flower reads the broker only
            assert svc["depends_on"]["migrate"]
            assert f"helmq-state:{STATE_DIR}" in svc["volumes"], name
            assert svc["environment"]["HELMQ_STATE_DIR"] == STATE_DIR
    for name in LOCAL_SERVERS:
        assert services[name]["healthcheck"]["test"]
    assert (ROOT / "Dockerfile").is_file()


def test_every_queue_has_a_worker_and_claude_runs_one_at_a_time():
    compose = raw_compose()
    consumed: dict[str, str] = {}
    for name, argv in workers(compose).items():
        for queue in option(argv, "--queues", "-Q").split(","):
            assert queue not in consumed, f"{queue} is consumed by {consumed[queue]} and {name}"
            consumed[queue] = name
        node = option(argv, "-n", "--hostname")
        assert node and node.endswith("@%h"), (name, node)
        health = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert f"-d {node.split('@')[0]}@$$HOSTNAME" in health, name
    assert set(consumed) == set(QUEUES)
    assert set(TIER_QUEUE.values()) | set(STAGE_QUEUE.values()) <= set(consumed)
    claude = workers(compose)[consumed["claude"]]
    assert consumed["claude"] == "worker-claude"
    assert option(claude, "--concurrency", "-c") == "1"


def test_ui_and_flower_listen_on_localhost_only_and_flower_needs_a_login_from_env():
    services = raw_compose()["services"]
    assert services["ui"]["ports"] == ["127.0.0.1:8765:8765"]
    ui = shlex.split(services["ui"]["command"])
    assert (option(ui, "--host"), option(ui, "--port")) == ("0.0.0.0", "8765")
    assert services["flower"]["ports"] == ["127.0.0.1:5555:5555"]
    flower = shlex.split(services["flower"]["command"])
    assert flower[:4] == ["celery", "-A", "tasks", "flower"]
    assert (option(flower, "--address"), option(flower, "--port")) == ("0.0.0.0", "5555")
    login = services["flower"]["environment"]["FLOWER_BASIC_AUTH"]
    assert re.fullmatch(r"\$\{FLOWER_USER:\?[^}]*\}:\$\{FLOWER_PASSWORD:\?[^}]*\}", login)
    with pytest.raises(KeyError, match="FLOWER_PASSWORD"):
        interpolate(services["flower"], {"FLOWER_USER": "admin"})


def test_no_secret_is_written_in_the_files():
    compose = raw_compose()
    secretish = re.compile(r"PASSWORD|KEY|TOKEN|AUTH|SECRET")
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if secretish.search(key):
                assert str(value).startswith("${"), (name, key, value)
    url = compose["services"]["migrate"]["environment"]["HELMQ_DATABASE_URL"]
    assert re.fullmatch(r"postgresql\+psycopg://helmq:\$\{POSTGRES_PASSWORD:\?[^}]*\}"
                        r"@postgres:5432/helmq", url)
    # Every variable the file requires is described in .env.example, and left empty there.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text(encoding="utf-8")))
    example = dict(line.split("=", 1) for line in
                   (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
                   if line and not line.startswith("#"))
    assert required <= set(example)
    assert all(not example[k] for k in example if "PASSWORD" in k or "KEY" in k)


def test_dockerfile_runs_as_a_user_with_git_and_a_state_volume():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"apt-get install .*\bgit\b", text)
    assert re.search(r"^RUN pip install \"\.\[deploy\]\"$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert f'VOLUME ["{STATE_DIR}"]' in text
    # Everything pyproject.toml installs is copied into the image (and the handlers package)
    copied = {src for line in re.findall(r"^COPY (.+) \S+$", text, re.M)
              for src in line.split()}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    wanted = {p.rstrip("*") for p in setuptools["packages"]["find"]["include"]}
    wanted |= {f"{m}.py" for m in setuptools.get("py-modules", [])}
    assert wanted | {"handlers", "pyproject.toml", "README.md"} <= copied
