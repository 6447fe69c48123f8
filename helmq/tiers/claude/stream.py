"""Reading the CLI's stream-json output: progress as it happens and the final result event."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from helmq.llm.pricing import TokenUsage, cost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running session, for the UI and the item's data."""

    session_id: str | None
    model: str | None
    cwd: str | None
    events: int
    turns: int
    tool_calls: int
    tools: dict[str, int]
    cost_usd: float | None
    """The CLI's own total once it sent a result; before that an estimate from usage."""
    cost_estimated: bool
    garbage_lines: int
    last_tool: str | None
    finished: bool
    """True once the result event arrived."""


@dataclass
class StreamWatcher:
    """Consumes stdout lines of `claude -p --output-format stream-json --verbose`.

    Thread-safe: a reader thread feeds lines, the supervising loop takes snapshots.
    Lines that are not JSON objects are counted and logged, never fatal.
    """

    session_id: str | None = None
    model: str | None = None
    cwd: str | None = None
    result: dict[str, Any] | None = None
    events: int = 0
    garbage_lines: int = 0
    tools: Counter[str] = field(default_factory=Counter)
    last_tool: str | None = None
    _turn_ids: set[str] = field(default_factory=set)
    _usage: dict[str, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def feed(self, line: str) -> None:
        """Take one line of the CLI's stdout."""
        line = line.strip()
        if not line:
            return
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            with self._lock:
                self.garbage_lines += 1
            log.warning("claude stream: not a JSON event, ignored: %.200s", line)
            return
        with self._lock:
            self._take(event)

    def _take(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = event.get("type")
        if isinstance(event.get("session_id"), str):
            self.session_id = event["session_id"]
        if kind == "system" and event.get("subtype") == "init":
            self.model = event.get("model") or self.model
            self.cwd = event.get("cwd") or self.cwd
        elif kind == "assistant":
            self._assistant(event.get("message") or {})
        elif kind == "result":
            self.result = event

    def _assistant(self, message: dict[str, Any]) -> None:
        # The CLI sends one event per content block; blocks of one reply share its id.
        msg_id = str(message.get("id") or f"anon-{self.events}")
        self._turn_ids.add(msg_id)
        if isinstance(message.get("usage"), dict):
            self._usage[msg_id] = (message.get("model") or self.model, message["usage"])
        for block in message.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                name = str(block.get("name") or "?")
                self.tools[name] += 1
                self.last_tool = name

    def _estimate(self) -> Decimal | None:
        total = Decimal(0)
        for model, usage in self._usage.values():
            one = cost(model, TokenUsage.from_api(usage))
            if one is None:
                return None
            total += one
        return total

    def progress(self) -> Progress:
        """What the session has done so far."""
        with self._lock:
            result = self.result or {}
            final = result.get("total_cost_usd")
            if isinstance(final, int | float):
                cost_usd: float | None = float(final)
            else:
                estimate = self._estimate()
                cost_usd = float(estimate) if estimate is not None else None
            turns = result.get("num_turns")
            return Progress(
                session_id=self.session_id, model=self.model, cwd=self.cwd, events=self.events,
                turns=int(turns) if isinstance(turns, int) else len(self._turn_ids),
                tool_calls=sum(self.tools.values()), tools=dict(self.tools),
                cost_usd=cost_usd, cost_estimated=not isinstance(final, int | float),
                garbage_lines=self.garbage_lines, last_tool=self.last_tool,
                finished=self.result is not None,
            )
