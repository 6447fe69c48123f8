"""What the stages may know about their surroundings: directories and capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helmq.domain.jobs import JobsConfig
    from helmq.llm.service import LLMService
    from helmq.tiers.claude.config import ClaudeConfig
    from helmq.tiers.claude.session import SessionStore


@dataclass(frozen=True)
class StageContext:
    """Plain values the stages need; the composition root (helmq.runtime) builds it once
    per process."""

    worktrees_dir: Path
    reports_dir: Path
    llm_credentials: bool
    retry_waiting_seconds: float = 3600.0
    llm: LLMService | None = None
    """Budgeted LLM calls; None where no database is at hand (the LLM tiers then wait)."""
    jobs: JobsConfig | None = None
    claude: ClaudeConfig | None = None
    """The Claude session tier's settings; None where it is not set up (the tier waits)."""
    sessions: SessionStore | None = None
    """Where a running session records its progress and heartbeats its lease."""
