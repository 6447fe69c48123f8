"""Running the `claude` CLI under helmq's own limits: wall clock, pause policy, process group.

The CLI runs in a session of its own, so stopping it (SIGINT, then SIGTERM, then SIGKILL)
or suspending it (SIGSTOP/SIGCONT) reaches every tool process it started.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from helmq.repos.last_active import read_last_active
from helmq.tiers.claude.config import PausePolicy
from helmq.tiers.claude.stream import Progress, StreamWatcher

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
STDERR_LINES = 40


class Stop(StrEnum):
    """Why helmq, not the CLI, ended a session."""

    TIMEOUT = "timeout"
    """The session ran past max_minutes."""
    USER_RETURNED = "user_returned"
    """The user became active under pause_policy abort, or stayed active past max_pause."""
    LOST = "lost"
    """The item was taken away meanwhile (reconciled, cancelled): nobody wants the result."""


@dataclass(frozen=True)
class SessionSpec:
    """One CLI invocation and the limits helmq enforces around it."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    prompt: str
    max_seconds: float
    pause_policy: PausePolicy = PausePolicy.CONTINUE
    last_active_path: Path | None = None
    resume_idle_seconds: float = 300.0
    max_pause_seconds: float = 3600.0
    stop_grace_seconds: float = 5.0
    progress_seconds: float = 2.0


@dataclass
class SessionRun:
    """What happened to one CLI process."""

    started_at: datetime
    ended_at: datetime | None = None
    pid: int | None = None
    exit_code: int | None = None
    start_error: str | None = None
    """Set when the process could not be started at all."""
    stopped: Stop | None = None
    stop_signal: str | None = None
    """The last signal helmq sent to end it (SIGINT, SIGTERM or SIGKILL)."""
    pauses: int = 0
    paused_seconds: float = 0.0
    stderr_tail: str = ""
    watcher: StreamWatcher = field(default_factory=StreamWatcher)

    @property
    def seconds(self) -> float:
        end = self.ended_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()


ProgressCallback = Callable[[Progress, "SessionRun", str], bool]
"""Called with the progress, the run so far and the state (`running` or `paused`);
returning False stops the session (the item is no longer this worker's)."""


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        log.warning("no permission to signal process group %s", pgid)
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while any live (not zombie) process of the group exists."""
    if not signal_group(pgid, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def kill_group(pgid: int, timeout: float = 5.0) -> bool:
    """SIGKILL the whole group and wait until none of it runs; False if some survived."""
    deadline = time.monotonic() + timeout
    while signal_group(pgid, signal.SIGKILL) and group_alive(pgid):
        if time.monotonic() >= deadline:
            log.warning("process group %s survived SIGKILL for %.0f s", pgid, timeout)
            return False
        time.sleep(0.05)
    return True


class _Activity:
    """The user's activity since the session started, from the last-active file."""

    def __init__(self, path: Path | None, started: datetime, idle_seconds: float) -> None:
        self.path, self.started, self.idle_seconds = path, started, idle_seconds

    def active(self) -> bool:
        """Active = touched after the session started and within `idle_seconds` of now
        (an unreadable file counts as active forever, as everywhere in helmq)."""
        if self.path is None:
            return False
        at = read_last_active(self.path).at
        if at is None or at <= self.started:
            return False
        return (datetime.now(UTC) - at).total_seconds() < self.idle_seconds


def _drain(stream, sink: Callable[[str], None]) -> threading.Thread:
    def pump() -> None:
        try:
            for line in stream:
                sink(line)
        except (OSError, ValueError):
            pass  # the pipe closed under us while stopping: nothing more to read

    thread = threading.Thread(target=pump, daemon=True, name="claude-stream")
    thread.start()
    return thread


def _feed_stdin(proc: subprocess.Popen, prompt: str) -> None:
    def write() -> None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(prompt)
            proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the CLI died before reading its prompt; its exit tells why

    threading.Thread(target=write, daemon=True, name="claude-stdin").start()


def run_session(spec: SessionSpec, on_progress: ProgressCallback | None = None, *,
                on_start: Callable[[int], None] | None = None) -> SessionRun:
    """Run the CLI to its end or helmq's limit; always returns with the process group gone.

    `on_start` gets the process group id as soon as the CLI runs.
    """
    run = SessionRun(started_at=datetime.now(UTC))
    try:
        proc = subprocess.Popen(
            spec.argv, cwd=spec.cwd, env=spec.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
    except OSError as exc:
        run.ended_at = datetime.now(UTC)
        run.start_error = f"cannot start {spec.argv[0]}: {exc.strerror or exc}"
        return run
    run.pid = proc.pid
    stderr: deque[str] = deque(maxlen=STDERR_LINES)
    readers = [_drain(proc.stdout, run.watcher.feed), _drain(proc.stderr, stderr.append)]
    _feed_stdin(proc, spec.prompt)
    try:
        if on_start is not None:
            on_start(proc.pid)
        _supervise(proc, spec, run, on_progress)
    except BaseException:
        # A soft time limit or Ctrl-C in the worker: nothing may outlive the task.
        _stop(proc, run, grace=min(spec.stop_grace_seconds, 1.0), paused=True)
        raise
    finally:
        proc.poll()
        kill_group(proc.pid)  # tool processes the CLI left behind
        for reader in readers:
            reader.join(5)
        run.ended_at = run.ended_at or datetime.now(UTC)
        run.exit_code = proc.returncode
        run.stderr_tail = "".join(stderr)[-4000:]
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
    return run


def _supervise(proc: subprocess.Popen, spec: SessionSpec, run: SessionRun,
               on_progress: ProgressCallback | None) -> None:
    """Wait for the process while enforcing the deadline and the pause policy."""
    activity = _Activity(spec.last_active_path, run.started_at, spec.resume_idle_seconds)
    watch = spec.pause_policy is not PausePolicy.CONTINUE and spec.last_active_path is not None
    worked = 0.0  # seconds the session ran unpaused: max_minutes counts these
    paused_since: float | None = None
    last_tick = time.monotonic()
    next_report = last_tick
    while proc.poll() is None:
        time.sleep(POLL_SECONDS)
        now = time.monotonic()
        if paused_since is None:
            worked += now - last_tick
        last_tick = now
        if now >= next_report and on_progress is not None:
            next_report = now + spec.progress_seconds
            state = "paused" if paused_since is not None else "running"
            if on_progress(run.watcher.progress(), run, state) is False:
                run.stopped = Stop.LOST
                _stop(proc, run, grace=spec.stop_grace_seconds, paused=state == "paused")
                return
        if paused_since is None and worked >= spec.max_seconds:
            run.stopped = Stop.TIMEOUT
            _stop(proc, run, grace=spec.stop_grace_seconds, paused=False)
            return
        if not watch:
            continue
        active = activity.active()
        if paused_since is None and active:
            if spec.pause_policy is PausePolicy.ABORT:
                run.stopped = Stop.USER_RETURNED
                _stop(proc, run, grace=spec.stop_grace_seconds, paused=False)
                return
            signal_group(proc.pid, signal.SIGSTOP)
            paused_since, run.pauses = now, run.pauses + 1
            log.info("claude session %s paused: the user is active", run.watcher.session_id)
            next_report = now
        elif paused_since is not None:
            run.paused_seconds += now - paused_since
            paused_since = now
            if not active:
                signal_group(proc.pid, signal.SIGCONT)
                paused_since = None
                log.info("claude session %s resumed: the user is idle", run.watcher.session_id)
                next_report = now
            elif run.paused_seconds >= spec.max_pause_seconds:
                run.stopped = Stop.USER_RETURNED
                _stop(proc, run, grace=spec.stop_grace_seconds, paused=True)
                return


def _stop(proc: subprocess.Popen, run: SessionRun, *, grace: float, paused: bool) -> None:
    """SIGINT, then SIGTERM, then SIGKILL to the process group, `grace` seconds apart."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        run.stop_signal = sig.name
        signal_group(proc.pid, sig)
        if paused:
            signal_group(proc.pid, signal.SIGCONT)  # a stopped process acts on nothing else
        try:
            proc.wait(grace if sig is not signal.SIGKILL else None)
            break
        except subprocess.TimeoutExpired:
            continue
    run.ended_at = datetime.now(UTC)
