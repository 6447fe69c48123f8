"""A progress line on stderr for long work (scans): silent for short work, one line kept
up to date in place on a terminal, an occasional plain line when stderr is a file or pipe."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressLine:
    """Shows `what` and the elapsed time once the work has taken `delay` seconds.

    On a terminal the line is rewritten every `tick` seconds and erased at the end; elsewhere
    a line is written when `what` changes or every `every` seconds, so logs stay short."""

    def __init__(self, stream: TextIO | None = None, *, delay: float = 1.0, tick: float = 0.25,
                 every: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay, self.tick, self.every = delay, tick, every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._what = ""
        self._shown = ""
        self._last_write = 0.0
        self._width = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, what: str) -> None:
        """What the work is doing now; shown at the next tick."""
        with self._lock:
            self._what = what
        self._render()

    def _render(self, *, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._start
        with self._lock:
            what = self._what
            if not what or (elapsed < self.delay and not force):
                return
            line = f"{what} … {elapsed:.0f} s"
            if self.tty:
                pad = " " * max(0, self._width - len(line))
                self.stream.write(f"\r{line}{pad}")
                self._width = len(line)
            elif what != self._shown or now - self._last_write >= self.every:
                self.stream.write(line + "\n")
            else:
                return
            self._shown, self._last_write = what, now
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self._render()

    def __enter__(self) -> ProgressLine:
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="helmq-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.tty and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
