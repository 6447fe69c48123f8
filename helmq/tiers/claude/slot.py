"""One Claude session at a time per host, whatever the worker layout (the embedded mode runs
every queue in one pool of threads), and no session left behind by a worker that died."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from helmq.errors import SlotBusy
from helmq.tiers.claude.process import group_alive, kill_group, signal_group


@contextmanager
def session_slot(lock_path: Path, *, wait_seconds: float,
                 on_wait: Callable[[], None] | None = None,
                 poll: float = 0.2) -> Iterator[SessionMarker]:
    """Hold the host's session slot (an exclusive flock); raises SlotBusy after `wait_seconds`.

    The kernel drops the lock when its holder dies, so a crashed worker never blocks the tier.
    `on_wait` runs about every second while waiting (the caller heartbeats its lease there).
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        next_call = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                now = time.monotonic()
                if now >= deadline:
                    raise SlotBusy(f"another Claude session held {lock_path} for "
                                   f"{wait_seconds:g} s") from None
                if on_wait is not None and now >= next_call:
                    on_wait()
                    next_call = now + 1.0
                time.sleep(poll)
        marker = SessionMarker(lock_path.with_suffix(".running"))
        marker.reap()
        try:
            yield marker
        finally:
            marker.clear()
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class SessionMarker:
    """A note of the process group of the session holding the slot.

    A worker killed mid-session (SIGKILL, OOM) cannot stop its CLI, which runs in a process
    group of its own; the next holder of the slot finds the note and kills that group.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, pgid: int, argv0: str) -> None:
        self.path.write_text(json.dumps({"pgid": pgid, "argv0": argv0}), encoding="utf-8")

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def reap(self) -> int | None:
        """Kill the process group a dead holder left behind; its pgid, or None."""
        try:
            note = json.loads(self.path.read_text(encoding="utf-8"))
            pgid, argv0 = int(note["pgid"]), str(note["argv0"])
        except (OSError, ValueError, KeyError, TypeError):
            self.clear()
            return None
        self.clear()
        if not group_alive(pgid) or not _is_claude(pgid, argv0):
            return None
        signal_group(pgid, signal.SIGCONT)  # a paused session's group, too
        kill_group(pgid)
        return pgid


def _is_claude(pid: int, argv0: str) -> bool:
    """True when `pid` still runs the CLI we started (not a process that reused the id)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        # The group leader exited but tool processes may remain; no /proc to check by.
        return not Path("/proc/self").exists()
    return os.path.basename(cmdline) == os.path.basename(argv0)
