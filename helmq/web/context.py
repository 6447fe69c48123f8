"""What the web app's handlers share: settings, the store, jobs.yaml and a scan starter, all
handed in by the composition root (the web app builds none of them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import Request

from helmq.config.settings import Settings
from helmq.domain.jobs import JobConfig, JobsConfig
from helmq.store.repository import Repository
from helmq.web.scans import ScanStarted


class ScanStarter(Protocol):
    """Starts discovery of one job now, without waiting for it (tasks.scans.ScanLauncher)."""

    def launch(self, job: str) -> ScanStarted: ...

    def wait_idle(self, timeout: float = 30.0) -> bool: ...


@dataclass
class UIContext:
    """The parts the handlers use: each is a value, or a function that builds it on first use
    (so creating the app opens nothing), resolved once."""

    settings: Settings
    repo_given: Repository | Callable[[], Repository]
    jobs_given: JobsConfig | Callable[[], JobsConfig]
    scans_given: ScanStarter | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _built: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def _once(self, name: str, given: Any, kind: type) -> Any:
        if isinstance(given, kind):
            return given
        # Handlers run in a thread pool: two first requests must not build two engines.
        with self._lock:
            if name not in self._built:
                self._built[name] = given()
            return self._built[name]

    @property
    def repo(self) -> Repository:
        return self._once("repo", self.repo_given, Repository)

    @property
    def queries(self) -> Repository:
        return self.repo

    @property
    def jobs(self) -> JobsConfig:
        return self._once("jobs", self.jobs_given, JobsConfig)

    @property
    def flower_url(self) -> str:
        return self.settings.flower_url

    @property
    def scans(self) -> ScanStarter:
        if self.scans_given is None:
            raise LookupError("this UI was started without a way to start scans")
        return self.scans_given

    @property
    def internal_jobs(self) -> frozenset[str]:
        """Jobs whose items belong on the Internal tab; every other job's go to External."""
        return frozenset(n for n, j in self.jobs.jobs.items() if j.internal)

    def job(self, name: str) -> JobConfig | None:
        return self.jobs.jobs.get(name)


def ctx(request: Request) -> UIContext:
    """The context of the app serving `request`."""
    return request.app.state.ctx
