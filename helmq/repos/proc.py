"""Running external commands with a deadline that leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run_bounded(
    argv: Sequence[str],
    cwd: Path | None,
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """`subprocess.run` whose deadline kills the command and everything it started.

    The command runs in a session of its own, so a hung child (a filter, ssh, a credential
    helper) dies with it. Raises `subprocess.TimeoutExpired` after the kill, and `OSError`
    when the command cannot start.
    """
    # Diffs of files in other encodings must not crash a review; they read as U+FFFD.
    coding: dict[str, Any] = {"encoding": "utf-8", "errors": "replace"} if text else {}
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **coding,
    )
    with proc:
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except BaseException:
            # Timeout, Ctrl-C or a task's soft time limit: leave nothing running behind.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
