"""The composition root: what one process needs, built once from its Settings.

The CLI, the Celery workers and beat (`tasks`), the web UI and the embedded runner all take
their parts from a `Runtime`; nothing else builds an engine or reads jobs.yaml. Parts are
built on first use, so `--help` opens nothing; a forked worker child keeps the parsed jobs
and builds its own engine (pooled connections must not cross a fork).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from helmq.config.jobs import load_jobs
from helmq.config.settings import Settings
from helmq.discovery.registry import STRATEGIES
from helmq.domain.jobs import ClaudeSettings, JobsConfig
from helmq.store.engine import make_engine, upgrade
from helmq.store.ledger import Ledger
from helmq.store.repository import Repository
from helmq.tiers.claude.config import ClaudeConfig, PausePolicy
from helmq.tiers.claude.session import PASSED_ENV
from helmq.tiers.context import StageContext

if TYPE_CHECKING:
    from helmq.llm.client import LLMConfig


def llm_config(settings: Settings) -> LLMConfig:
    """The LLM client's configuration the environment describes."""
    # The anthropic SDK takes seconds to import: only processes that run stages pay for it,
    # not `helmq touch` or `--help`.
    from helmq.llm.client import DEFAULT_MODELS, LLMConfig

    return LLMConfig(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        models={**DEFAULT_MODELS, **settings.models},
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout,
        backoff_base=settings.llm_backoff_base,
    )


def claude_config(settings: Settings, jobs: ClaudeSettings | None = None,
                  **overrides: Any) -> ClaudeConfig:
    """The Claude session tier's configuration: its defaults, then jobs.yaml's `claude:`
    settings, then the HELMQ_CLAUDE_* variables, which win."""
    inherited = settings.environ
    values: dict[str, Any] = {
        "config_dir": settings.claude_config_dir or settings.state_dir / "claude",
        "bin": settings.claude_bin,
        "api_key": settings.anthropic_api_key,
        "base_url": settings.anthropic_base_url,
        "model": settings.claude_model,
        "last_active_path": settings.last_active_path,
        "parent_env": {k: inherited[k] for k in (*PASSED_ENV, "PATH") if k in inherited},
    }
    if jobs is not None:
        if jobs.tools is not None:
            values["allowed_tools"] = jobs.tools
        if jobs.max_turns is not None:
            values["max_turns"] = jobs.max_turns
        if jobs.pause_policy is not None:
            values["pause_policy"] = PausePolicy(jobs.pause_policy)
    if settings.claude_max_minutes is not None:
        values["max_minutes"] = settings.claude_max_minutes
    if settings.claude_max_turns is not None:
        values["max_turns"] = settings.claude_max_turns
    if settings.claude_pause_policy is not None:
        values["pause_policy"] = PausePolicy(settings.claude_pause_policy)
    values.update(overrides)
    return ClaudeConfig(**values)


def stage_context(settings: Settings, *, engine: Engine | None = None,
                  jobs: JobsConfig | None = None) -> StageContext:
    """The stages' context; without an engine and jobs the LLM and Claude tiers wait."""
    llm = claude = sessions = None
    if engine is not None and jobs is not None:
        from helmq.llm.budget import Budget  # see llm_config: the SDK loads only here
        from helmq.llm.service import LLMService

        llm = LLMService(llm_config(settings), Budget(Ledger(engine), jobs.budget),
                         vario=jobs.vario)
        claude = claude_config(settings, jobs.claude, max_budget_usd=jobs.budget.per_item_usd)
        sessions = Repository(engine)
    return StageContext(
        worktrees_dir=settings.worktrees_dir,
        reports_dir=settings.reports_dir,
        llm_credentials=settings.anthropic_api_key is not None,
        llm=llm,
        jobs=jobs,
        claude=claude,
        sessions=sessions,
    )


def execute_time_limit(settings: Settings) -> float:
    """The hard time limit of the execute task: a Claude session's max_minutes and pauses,
    or a plain stage's limit, whichever is longer."""
    return max(settings.task_time_limit, claude_config(settings).task_time_limit)


@dataclass
class Runtime:
    """Settings, engine, repository, jobs and stage context of one process."""

    settings: Settings
    jobs_given: JobsConfig | None = None
    """Jobs handed in: parsed by the parent of a forked worker, or narrowed by --repo."""
    migrate: bool = False
    """Apply pending migrations when the engine is built (the CLI does; workers do not)."""
    only_repos: tuple[str, ...] | None = None
    """`run-once/up --repo`: dispatch only the items found in these repositories."""
    pid: int = field(default_factory=os.getpid)

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.database_url)
        if self.migrate:
            upgrade(engine)
        return engine

    @cached_property
    def repo(self) -> Repository:
        return Repository(self.engine)

    @cached_property
    def jobs(self) -> JobsConfig:
        if self.jobs_given is not None:
            return self.jobs_given
        return load_jobs(self.settings.config_path, strategies=STRATEGIES)

    @cached_property
    def ctx(self) -> StageContext:
        return stage_context(self.settings, engine=self.engine, jobs=self.jobs)

    @property
    def execute_time_limit(self) -> float:
        return execute_time_limit(self.settings)

    def with_repos(self, repos: list[Path], *, only: bool = False) -> Runtime:
        """This runtime scanning `repos`, sharing the engine; with `only` (what --repo asks)
        it also dispatches nothing else."""
        narrowed = Runtime(self.settings, replace(self.jobs, repos=tuple(repos)),
                           migrate=self.migrate,
                           only_repos=tuple(str(r) for r in repos) if only else None)
        if "engine" in self.__dict__:
            narrowed.__dict__["engine"] = self.engine
        return narrowed

    def for_child(self) -> Runtime:
        """What a forked child keeps: settings and the parsed jobs, never the engine."""
        return Runtime(self.settings, self.__dict__.get("jobs", self.jobs_given),
                       only_repos=self.only_repos)

    def close(self) -> None:
        """Dispose of the engine's pooled connections, if one was built."""
        if "engine" in self.__dict__:
            self.engine.dispose()


_current: Runtime | None = None


def install(rt: Runtime) -> Runtime:
    """Use `rt` in this process (the CLI's runtime, shared with embedded worker threads)."""
    global _current
    _current = rt
    return rt


def current() -> Runtime:
    """This process's runtime: built from the environment on first use; a forked child
    keeps its parent's parsed jobs and builds its own engine."""
    global _current
    if _current is None:
        _current = Runtime(Settings.from_env())
    elif _current.pid != os.getpid():
        _current = _current.for_child()
    return _current
