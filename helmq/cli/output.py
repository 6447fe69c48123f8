"""What every verb shares: exit codes, printing text or JSON, and which repos to work on."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helmq.errors import ConfigError

if TYPE_CHECKING:
    from helmq.runtime import Runtime

log = logging.getLogger("helmq")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141
"""As a process killed by SIGPIPE exits in the shell (128 + 13)."""


def emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    """One JSON document on stdout with --json, else the text."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text() + "\n")


def target_repos(rt: Runtime, override: Sequence[str] | None) -> list[Path]:
    """--repo wins, then jobs.yaml's repos, then the current directory."""
    if override:
        paths = [Path(p).expanduser().resolve() for p in override]
        for p in paths:
            if not p.is_dir():
                raise ConfigError(f"{p} is not a directory", key="--repo")
        return paths
    if rt.jobs.repos:
        return list(rt.jobs.repos)
    log.info("no --repo and no repos in %s: scanning the current directory", rt.jobs.source)
    return [Path.cwd()]
