"""How Claude sessions run: the CLI, its isolated config dir, and the limits of one session."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from helmq.errors import ConfigError

DEFAULT_TOOLS = ("Read", "Edit", "Write", "Glob", "Grep", "Bash(git status:*)")
"""jobs.yaml's `claude: {tools: [...]}` may replace this list. Bare Read/Edit/Write/Glob/Grep
entries are dropped when the CLI is started, so it reads and edits only inside its worktree
(see `claude_session.allow_list`). Not `Bash(git diff:*)`: `git diff --output=FILE` writes
anywhere and `--no-index` reads anywhere."""

class PausePolicy(StrEnum):
    """What a running session does when the user becomes active."""

    CONTINUE = "continue"
    """Keep working; the user's checkout is never touched anyway."""
    PAUSE = "pause"
    """Suspend the process group until the user is idle again."""
    ABORT = "abort"
    """Stop now, keep the transcript, re-queue; the next run resumes the session."""


@dataclass(frozen=True)
class SessionLimits:
    """The limits of one session: the tier's defaults with the item's own overrides."""

    max_minutes: float
    max_turns: int
    max_budget_usd: float
    pause_policy: PausePolicy


@dataclass(frozen=True)
class ClaudeConfig:
    """Everything the tier needs besides the item; built once per process."""

    config_dir: Path
    """CLAUDE_CONFIG_DIR: transcripts land under it (inside the state dir, so the UI may
    serve them)."""
    bin: str | None = None
    """HELMQ_CLAUDE_BIN; None = `claude` on PATH, else the one bundled with claude-agent-sdk."""
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str | None = None
    max_turns: int = 30
    max_budget_usd: float = 2.0
    max_minutes: float = 30.0
    pause_policy: PausePolicy = PausePolicy.PAUSE
    allowed_tools: tuple[str, ...] = DEFAULT_TOOLS
    last_active_path: Path | None = None
    resume_idle_minutes: float = 5.0
    """A paused session resumes once the user has been idle this long."""
    max_pause_minutes: float = 60.0
    """A session paused longer than this is aborted (and resumed on its next run)."""
    stop_grace_seconds: float = 5.0
    """Between SIGINT, SIGTERM and SIGKILL when helmq stops a session."""
    progress_seconds: float = 2.0
    """How often progress is recorded and the item's lease extended."""
    lease_seconds: float = 600.0
    """Each heartbeat extends the item's lease this far: a dead worker's item comes back soon."""
    breaker_cooldown_seconds: float = 600.0
    """After a crash (CLI missing, failing to start) the tier's items wait this long."""
    api_retry_seconds: float = 300.0
    """An overloaded or rate-limited API: the item waits this long, then resumes."""
    slot_wait_seconds: float = 3600.0
    """How long a session waits for the host's session slot before the item waits instead."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the CLI (e.g. CLAUDE_CODE_MAX_RETRIES)."""
    parent_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """What the CLI may inherit from helmq's environment (locale, PATH, proxies); the
    composition root fills it from Settings."""

    @property
    def home(self) -> Path:
        """HOME of the CLI: a directory of its own, so no user-level setting leaks in."""
        return self.config_dir / "home"

    @property
    def slot_path(self) -> Path:
        """The lock file that lets one session run at a time on this host."""
        return self.config_dir / "session.lock"

    def limits_for(self, data: Mapping[str, Any]) -> SessionLimits:
        """This config's limits, overridden by the item's `max_minutes`, `max_turns`,
        `max_budget_usd` and `pause_policy` data (a bad value is the item's error). An item
        may shorten max_minutes, not lengthen it: the claude worker's task time limit and the
        broker's visibility timeout are derived from the tier's max_minutes."""
        limits = SessionLimits(self.max_minutes, self.max_turns, self.max_budget_usd,
                               self.pause_policy)
        if data.get("max_minutes") is not None:
            limits = replace(limits, max_minutes=min(parse_minutes(data["max_minutes"]),
                                                     self.max_minutes))
        if data.get("max_turns") is not None:
            limits = replace(limits, max_turns=int(_positive("max_turns", data["max_turns"])))
        if data.get("max_budget_usd") is not None:
            limits = replace(limits,
                             max_budget_usd=_positive("max_budget_usd", data["max_budget_usd"]))
        if data.get("pause_policy"):
            limits = replace(limits, pause_policy=_policy(data["pause_policy"], "pause_policy"))
        return limits

    @property
    def task_time_limit(self) -> float:
        """Seconds a Celery task running one session may take: the session's own limit, its
        longest pause, the stop escalation and the commit afterwards."""
        return (self.max_minutes + self.max_pause_minutes) * 60 + 4 * self.stop_grace_seconds + 120


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([mh]?)\s*", re.IGNORECASE)


def parse_minutes(value: Any) -> float:
    """Minutes from a number or a `30m` / `2h` tag value."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    found = _DURATION.fullmatch(str(value))
    if found is None or float(found[1]) <= 0:
        raise ConfigError(f"expected minutes such as 30, '30m' or '2h', got {value!r}",
                          key="max_minutes")
    return float(found[1]) * (60 if found[2].lower() == "h" else 1)


def _positive(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a number, got {value!r}", key=key) from None
    if number <= 0:
        raise ConfigError(f"must be greater than 0, got {value!r}", key=key)
    return number


def _policy(value: Any, key: str) -> PausePolicy:
    try:
        return PausePolicy(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in PausePolicy)
        raise ConfigError(f"expected one of {choices}, got {value!r}", key=key) from None


def bundled_claude() -> Path | None:
    """The `claude` binary shipped inside the claude-agent-sdk wheel, if installed."""
    try:
        import claude_agent_sdk
    except ImportError:
        return None
    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return path if path.is_file() else None


def resolve_bin(configured: str | None) -> str | None:
    """HELMQ_CLAUDE_BIN, else `claude` on PATH, else the bundled one; None when none exists.

    A configured path is returned as it is, even if missing: starting it then fails with a
    message that names it, instead of silently running another claude.
    """
    if configured:
        return configured
    found = shutil.which("claude")
    if found:
        return found
    bundled = bundled_claude()
    return str(bundled) if bundled else None
