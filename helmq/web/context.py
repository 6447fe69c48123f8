"""What the web app's handlers share: settings, the store, jobs.yaml and the scan launcher."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from helmq.config.jobs import JobConfig, JobsConfig
from helmq.config.settings import Settings
from helmq.store.repository import Repository
from helmq.store.ui_queries import UIQueries
from helmq.web.scans import ScanLauncher

DEFAULT_FLOWER_URL = "http://127.0.0.1:5555"


@dataclass
class UIContext:
    """Parts built on first use, so creating the app opens nothing; parts may be handed in."""

    settings: Settings
    repo_given: Repository | None = None
    jobs_given: JobsConfig | None = None
    flower_url: str = field(
        default_factory=lambda: (os.environ.get("HELMQ_FLOWER_URL") or DEFAULT_FLOWER_URL)
        .rstrip("/"))
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _built: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _engine: Engine | None = field(default=None, init=False, repr=False)

    def _once(self, name: str, build: Callable[[], Any]) -> Any:
        # Handlers run in a thread pool: two first requests must not build two engines.
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]

    @property
    def repo(self) -> Repository:
        if self.repo_given is not None:
            return self.repo_given
        return self._once("repo", self._make_repo)

    def _make_repo(self) -> Repository:
        from helmq.store.engine import make_engine

        self._engine = make_engine(self.settings.database_url)
        return Repository(self._engine)

    @property
    def queries(self) -> UIQueries:
        # Until Repository mixes UIQueries in, the UI's queries run on the same engine.
        repo = self.repo
        if isinstance(repo, UIQueries):
            return repo
        return self._once("queries", lambda: UIQueries(repo.engine))

    @property
    def jobs(self) -> JobsConfig:
        if self.jobs_given is not None:
            return self.jobs_given
        return self._once("jobs", self._load_jobs)

    def _load_jobs(self) -> JobsConfig:
        from helmq.config.jobs import load_jobs
        from helmq.discovery.registry import STRATEGIES

        return load_jobs(self.settings.config_path, strategies=STRATEGIES)

    @property
    def scans(self) -> ScanLauncher:
        return self._once("scans", lambda: ScanLauncher(self.settings, lambda: self.repo,
                                                        lambda: self.jobs))

    @property
    def internal_jobs(self) -> frozenset[str]:
        """Jobs whose items belong on the Internal tab; every other job's go to External."""
        return frozenset(n for n, j in self.jobs.jobs.items() if j.internal)

    def job(self, name: str) -> JobConfig | None:
        return self.jobs.jobs.get(name)

    def close(self) -> None:
        """Dispose of the engine if this context made it."""
        if self._engine is not None:
            self._engine.dispose()


def ctx(request: Request) -> UIContext:
    """The context of the app serving `request`."""
    return request.app.state.ctx
