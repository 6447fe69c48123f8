"""What a worker process needs, built lazily once per process (never inherited across fork)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import Engine

from helmq.config.jobs import JobsConfig, load_jobs
from helmq.config.settings import Settings
from helmq.discovery.registry import STRATEGIES
from helmq.store.engine import make_engine
from helmq.store.repository import Repository
from helmq.tiers.context import StageContext


@dataclass
class Runtime:
    """Settings, engine, repository and jobs of one process; parts may be handed in."""

    settings: Settings
    engine: Engine | None = None
    jobs_config: JobsConfig | None = None
    pid: int = field(default_factory=os.getpid)
    _repo: Repository | None = field(default=None, init=False, repr=False)
    _ctx: StageContext | None = field(default=None, init=False, repr=False)

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self.engine = self.engine or make_engine(self.settings.database_url)
            self._repo = Repository(self.engine)
        return self._repo

    @property
    def jobs(self) -> JobsConfig:
        if self.jobs_config is None:
            self.jobs_config = load_jobs(self.settings.config_path, strategies=STRATEGIES)
        return self.jobs_config

    @property
    def ctx(self) -> StageContext:
        if self._ctx is None:
            repo = self.repo  # builds the engine
            self._ctx = StageContext.from_settings(self.settings, engine=repo.engine,
                                                   jobs=self.jobs)
        return self._ctx


_current: Runtime | None = None


def install(rt: Runtime) -> None:
    """Use `rt` in this process (the embedded mode shares the CLI's engine and jobs)."""
    global _current
    _current = rt


def current() -> Runtime:
    """This process's runtime; a forked child builds its own engine from the environment."""
    global _current
    if _current is None or _current.pid != os.getpid():
        _current = Runtime(Settings.from_env())
    return _current
