"""What jobs.yaml says, as plain values: jobs, their discovery, eligibility and budgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from helmq.domain.model import Recurrence, Stage
from helmq.errors import ConfigError

STAGES = tuple(stage.value for stage in Stage)
"""Every stage of the chain, in the only order a job may list them."""
URL_SCHEMES = frozenset({"http", "https", "file"})
"""What the feed strategy may fetch."""


@dataclass(frozen=True)
class Budget:
    """Spending limits for LLM tiers, in US dollars."""

    daily_usd: float = 5.0
    per_item_usd: float = 2.0


@dataclass(frozen=True)
class Vario:
    """The vario tier's panel: one call per listed model, or `samples` calls of the vario
    role's model when none are listed."""

    models: tuple[str, ...] = ()
    samples: int = 3

    @property
    def size(self) -> int:
        return len(self.models) or self.samples


@dataclass(frozen=True)
class ClaudeSettings:
    """The Claude session tier's settings in jobs.yaml; None leaves the tier's default (and
    the HELMQ_CLAUDE_* variables, which win over these)."""

    tools: tuple[str, ...] | None = None
    """The CLI's tool allow-list (`--allowedTools` rules)."""
    max_turns: int | None = None
    pause_policy: str | None = None


PAUSE_POLICIES = ("continue", "pause", "abort")


@dataclass(frozen=True)
class ConventionRule:
    """One `conventions` rule: exactly one of forbid, require_file and max_lines is set."""

    name: str
    forbid: str | None = None
    """A regular expression that must not match any line of the files."""
    require_file: str | None = None
    """A repo-relative path that must exist."""
    max_lines: int | None = None
    """The most lines a file may have."""
    files: tuple[str, ...] = ("*",)
    """Globs the rule applies to: without a `/` they match the file name, else the whole path."""
    exclude: tuple[str, ...] = ()
    message: str = ""
    repos: tuple[Path, ...] = ()
    """The repos the rule applies to; empty means every repo the job scans."""

    @property
    def kind(self) -> str:
        return "forbid" if self.forbid else "require_file" if self.require_file else "max_lines"


@dataclass(frozen=True)
class Discovery:
    """Which discovery strategy finds a job's items, how often it runs (seconds), and options."""

    strategy: str
    interval: int = 3600
    recurrence: Recurrence | None = None
    """Given to every item the strategy finds that does not set its own."""
    rules: tuple[ConventionRule, ...] = ()
    """The `conventions` strategy's rules."""
    url: str | None = None
    """The `feed` strategy's feed: an http://, https:// or file:// URL."""


@dataclass(frozen=True)
class Eligibility:
    """When a pending item of a job may be dispatched."""

    require_user_idle_minutes: float = 15
    data_filter: dict[str, Any] = field(default_factory=dict)
    """Each key must match the item's data; a list means one of; null matches missing/null."""


@dataclass(frozen=True)
class JobConfig:
    """One job: a kind of work with its own discovery, handler, stages and eligibility."""

    name: str
    internal: bool = False
    emoji: str = ""
    discovery: Discovery | None = None
    handler: str | None = None
    stages: tuple[str, ...] = STAGES
    eligibility: Eligibility = field(default_factory=Eligibility)
    paused: bool = False


@dataclass(frozen=True)
class JobsConfig:
    """Everything jobs.yaml says, with `source` naming the file or `<built-in>`."""

    repos: tuple[Path, ...]
    budget: Budget
    jobs: dict[str, JobConfig]
    source: str
    vario: Vario = field(default_factory=Vario)
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)


def check_url(url: str) -> str:
    """The URL if helmq may fetch it (http, https or file); ConfigError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES or (parts.scheme != "file" and not parts.hostname) or (
            parts.scheme == "file" and not parts.path):
        raise ConfigError(f"expected an http://, https:// or file:// URL, got {url!r}",
                          key="discovery.url")
    return url
