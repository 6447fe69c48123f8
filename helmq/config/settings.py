"""The one settings object, read from the environment once and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from helmq.domain.jobs import PAUSE_POLICIES
from helmq.errors import ConfigError

ENV_VARS = {
    "HELMQ_DATABASE_URL": "database URL (default: SQLite file in the state dir; "
    "postgresql+psycopg://… for Postgres)",
    "HELMQ_BROKER_URL": "Celery broker (default: embedded in-process broker; redis://… to deploy)",
    "HELMQ_CONFIG": "jobs.yaml path (default: ./jobs.yaml if present, else built-in jobs)",
    "HELMQ_STATE_DIR": "worktrees, reports, transcripts, SQLite (default: ~/.helmq)",
    "HELMQ_LAST_ACTIVE": "last-active file (default: ~/.coord/last_active.json)",
    "HELMQ_UI_TOKEN": "token for mutating UI/API calls (default: none, mutations refused)",
    "HELMQ_FLOWER_URL": "where the UI links Celery task ids (default: http://127.0.0.1:5555)",
    "ANTHROPIC_API_KEY": "LLM credentials; absent = LLM tiers wait",
    "ANTHROPIC_BASE_URL": "the Messages API address (default: the SDK's)",
    "HELMQ_MODEL_CLASSIFY": "model for classify (default: claude-haiku-5-5)",
    "HELMQ_MODEL_REVIEW": "model for LLM review (default: claude-haiku-5-5)",
    "HELMQ_MODEL_EXECUTE": "model for the llm_call tier (default: claude-sonnet-5-5)",
    "HELMQ_MODEL_VARIO": "model for vario samples without a list in jobs.yaml",
    "HELMQ_LLM_MAX_RETRIES": "retries of a 429/529/5xx call (default: 3)",
    "HELMQ_LLM_TIMEOUT": "seconds one LLM call may take, streaming included (default: 120)",
    "HELMQ_CLAUDE_BIN": "the claude CLI (default: on PATH or bundled with claude-agent-sdk)",
    "HELMQ_CLAUDE_MAX_MINUTES": "wall-clock limit of one Claude session (default 30)",
    "HELMQ_CLAUDE_MAX_TURNS": "--max-turns of one Claude session (default 30)",
    "HELMQ_CLAUDE_PAUSE_POLICY": "continue | pause | abort when the user returns (default pause)",
    "HELMQ_CLAUDE_MODEL": "--model for Claude sessions (default: the CLI's own)",
    "HELMQ_CLAUDE_CONFIG_DIR": "CLAUDE_CONFIG_DIR of the sessions (default: state dir/claude)",
}

EMBEDDED_BROKER = "memory://localhost/"
DEFAULT_FLOWER_URL = "http://127.0.0.1:5555"


def _number(env: dict[str, str], name: str, default: float, *, zero_ok: bool = False) -> float:
    """A number from the environment: > 0 (or >= 0 with zero_ok); ConfigError naming it."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"expected a number, got {raw!r}", key=name) from None
    if value < 0 or (value == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "greater than 0"
        raise ConfigError(f"must be {bound}, got {raw!r}", key=name)
    return value


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """One of `choices` (any case) from the environment; ConfigError naming it."""
    raw = env.get(name)
    if not raw:
        return None
    if raw.strip().lower() not in choices:
        raise ConfigError(f"expected one of {', '.join(choices)}, got {raw!r}", key=name)
    return raw.strip().lower()


def _path(env: dict[str, str], name: str) -> Path | None:
    return Path(env[name]).expanduser() if env.get(name) else None


@dataclass(frozen=True)
class Settings:
    """Everything helmq reads from its environment, resolved to concrete values."""

    state_dir: Path
    database_url: str
    broker_url: str
    config_path: Path | None
    last_active_path: Path
    ui_token: str | None = None
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    """Model per LLM role (classify, review, execute, vario) set in the environment."""
    llm_max_retries: int = 3
    llm_timeout: float = 120.0
    llm_backoff_base: float = 0.5
    claude_bin: str | None = None
    claude_max_minutes: float | None = None
    """HELMQ_CLAUDE_MAX_MINUTES; None leaves the tier's default."""
    claude_max_turns: int | None = None
    """HELMQ_CLAUDE_MAX_TURNS; wins over jobs.yaml's claude.max_turns."""
    claude_pause_policy: str | None = None
    """HELMQ_CLAUDE_PAUSE_POLICY; wins over jobs.yaml's claude.pause_policy."""
    claude_model: str | None = None
    claude_config_dir: Path | None = None
    """HELMQ_CLAUDE_CONFIG_DIR; None = <state dir>/claude."""
    transcript_dirs: tuple[Path, ...] = ()
    """Config dirs named by HELMQ_CLAUDE_CONFIG_DIR and CLAUDE_CONFIG_DIR: the UI may read
    session transcripts there, besides the state dir."""
    flower_url: str = DEFAULT_FLOWER_URL
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The whole environment as it was read: child processes (the claude CLI) get the parts
    they may inherit from it, never the rest (it holds secrets)."""
    # Leases: how long a stage may hold an item before the reconciler takes it back,
    # and how long a queued message may wait before it is presumed lost.
    task_time_limit: float = 3600.0
    """Hard time limit of a stage task; the soft limit is 30 s less."""
    stage_lease_seconds: float = 3720.0
    """Above the hard time limit: a lease expires only when its worker is gone."""
    queue_lease_seconds: float = 3600.0
    claude_queue_lease_seconds: float = 86400.0
    """The queue lease of a message for the claude queue, which one worker drains slowly."""
    max_redispatches: int = 3
    """After this many re-dispatches of one run, the item fails with class `lost`."""
    max_review_rounds: int = 3
    max_in_flight: int = 50
    """Dispatch stops while this many items are queued or running: a backlog stays in the
    database (pending) rather than ageing in the broker until its queue lease expires."""
    reconcile_interval: float = 60.0
    dispatch_interval: float = 30.0

    @property
    def embedded(self) -> bool:
        """True when the broker lives in this process (no HELMQ_BROKER_URL)."""
        return self.broker_url == EMBEDDED_BROKER

    @property
    def database_url_safe(self) -> str:
        """The database URL with any password masked, for logs and output."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def worktrees_dir(self) -> Path:
        return self.state_dir / "worktrees"

    @property
    def reports_dir(self) -> Path:
        return self.state_dir / "reports"

    @property
    def scan_cache_dir(self) -> Path:
        """Where discovery keeps its per-file cache, so a rescan skips unchanged files."""
        return self.state_dir / "scan-cache"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the environment (CONTRACT.md) once."""
        env = dict(os.environ if env is None else env)
        state_dir = Path(env.get("HELMQ_STATE_DIR") or "~/.helmq").expanduser()
        config = env.get("HELMQ_CONFIG")
        if config:
            config_path: Path | None = Path(config).expanduser()
        elif Path("jobs.yaml").is_file():
            config_path = Path("jobs.yaml").resolve()
        else:
            config_path = None
        return cls(
            state_dir=state_dir,
            database_url=env.get("HELMQ_DATABASE_URL") or f"sqlite:///{state_dir / 'helmq.db'}",
            broker_url=env.get("HELMQ_BROKER_URL") or EMBEDDED_BROKER,
            config_path=config_path,
            last_active_path=Path(
                env.get("HELMQ_LAST_ACTIVE") or "~/.coord/last_active.json"
            ).expanduser(),
            ui_token=env.get("HELMQ_UI_TOKEN") or None,
            anthropic_api_key=env.get("ANTHROPIC_API_KEY") or None,
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL") or None,
            models={role: env[f"HELMQ_MODEL_{role.upper()}"]
                    for role in ("classify", "review", "execute", "vario")
                    if env.get(f"HELMQ_MODEL_{role.upper()}")},
            llm_max_retries=int(_number(env, "HELMQ_LLM_MAX_RETRIES", 3, zero_ok=True)),
            llm_timeout=_number(env, "HELMQ_LLM_TIMEOUT", 120.0),
            llm_backoff_base=_number(env, "HELMQ_LLM_BACKOFF_BASE", 0.5, zero_ok=True),
            claude_bin=env.get("HELMQ_CLAUDE_BIN") or None,
            claude_max_minutes=(_number(env, "HELMQ_CLAUDE_MAX_MINUTES", 30.0)
                                if env.get("HELMQ_CLAUDE_MAX_MINUTES") else None),
            claude_max_turns=(int(_number(env, "HELMQ_CLAUDE_MAX_TURNS", 30))
                              if env.get("HELMQ_CLAUDE_MAX_TURNS") else None),
            claude_pause_policy=_choice(env, "HELMQ_CLAUDE_PAUSE_POLICY", PAUSE_POLICIES),
            claude_model=env.get("HELMQ_CLAUDE_MODEL") or None,
            claude_config_dir=_path(env, "HELMQ_CLAUDE_CONFIG_DIR"),
            transcript_dirs=tuple(p for p in (_path(env, "HELMQ_CLAUDE_CONFIG_DIR"),
                                              _path(env, "CLAUDE_CONFIG_DIR")) if p),
            flower_url=(env.get("HELMQ_FLOWER_URL") or DEFAULT_FLOWER_URL).rstrip("/"),
            environ=env,
            task_time_limit=_number(env, "HELMQ_TASK_TIME_LIMIT", 3600.0),
            stage_lease_seconds=_number(env, "HELMQ_STAGE_LEASE", 3720.0),
            queue_lease_seconds=_number(env, "HELMQ_QUEUE_LEASE", 3600.0),
            claude_queue_lease_seconds=_number(env, "HELMQ_CLAUDE_QUEUE_LEASE", 86400.0),
            reconcile_interval=_number(env, "HELMQ_RECONCILE_INTERVAL", 60.0),
            max_in_flight=int(_number(env, "HELMQ_MAX_IN_FLIGHT", 50)),
            dispatch_interval=_number(env, "HELMQ_DISPATCH_INTERVAL", 30.0),
        )
