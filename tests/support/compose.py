"""docker-compose.yml read as data: shared by the unit tests of its topology and the
acceptance test that runs every service's command."""

from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
LOCAL_SERVERS = frozenset({"postgres", "redis"})
"""Services the test's own Postgres and Redis stand in for."""
STATE_DIR = "/var/lib/helmq"

_VARIABLE = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\})")


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def interpolate(node: Any, variables: dict[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, over a whole document."""
    if isinstance(node, dict):
        return {k: interpolate(v, variables) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, variables) for v in node]
    if not isinstance(node, str):
        return node

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        value = variables.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return value or ""

    return _VARIABLE.sub(one, node)


def long_running(compose: dict[str, Any]) -> list[str]:
    return [name for name, svc in compose["services"].items()
            if name not in LOCAL_SERVERS and svc.get("restart") != "no"]


def workers(compose: dict[str, Any]) -> dict[str, list[str]]:
    """Worker service -> the command's argv."""
    return {name: shlex.split(svc["command"]) for name, svc in compose["services"].items()
            if shlex.split(str(svc.get("command", "")))[:2] == ["helmq", "worker"]}


def option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names:
            return argv[i + 1]
        for name in names:
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None
