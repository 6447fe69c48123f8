"""What the stages may know about their surroundings: directories and capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helmq.config.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from helmq.config.jobs import JobsConfig
    from helmq.llm.service import LLMService
    from helmq.store.session_queries import SessionQueries
    from helmq.tiers.claude.config import ClaudeConfig


@dataclass(frozen=True)
class StageContext:
    """Plain values the stages need; built once per process from Settings."""

    worktrees_dir: Path
    reports_dir: Path
    llm_credentials: bool
    retry_waiting_seconds: float = 3600.0
    llm: LLMService | None = None
    """Budgeted LLM calls; None where no database is at hand (the LLM tiers then wait)."""
    jobs: JobsConfig | None = None
    claude: ClaudeConfig | None = None
    """The Claude session tier's settings; None where it is not set up (the tier waits)."""
    sessions: SessionQueries | None = None
    """Where a running session records its progress and heartbeats its lease."""

    @classmethod
    def from_settings(cls, settings: Settings, *, engine: Engine | None = None,
                      jobs: JobsConfig | None = None) -> StageContext:
        llm = claude = sessions = None
        if engine is not None and jobs is not None:
            from helmq.llm.service import LLMService
            from helmq.store.repository import Repository
            from helmq.tiers.claude.config import ClaudeConfig

            llm = LLMService.build(settings, engine, jobs.budget, jobs.vario)
            claude = ClaudeConfig.from_settings(settings, jobs=jobs.claude,
                                                max_budget_usd=jobs.budget.per_item_usd)
            sessions = Repository(engine)
        return cls(
            worktrees_dir=settings.worktrees_dir,
            reports_dir=settings.reports_dir,
            llm_credentials=settings.anthropic_api_key is not None,
            llm=llm,
            jobs=jobs,
            claude=claude,
            sessions=sessions,
        )
