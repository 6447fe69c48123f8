"""What the stages may know about their surroundings: directories and capabilities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helmq.settings import Settings


@dataclass(frozen=True)
class StageContext:
    """Plain values the stages need; built once per process from Settings."""

    worktrees_dir: Path
    reports_dir: Path
    llm_credentials: bool
    retry_waiting_seconds: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> StageContext:
        return cls(
            worktrees_dir=settings.worktrees_dir,
            reports_dir=settings.reports_dir,
            llm_credentials=settings.anthropic_api_key is not None,
        )
