"""“Scan now” from the UI: a `helmq.scan` task for the workers, or a thread when embedded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kombu.exceptions import OperationalError

from helmq.config.settings import Settings
from helmq.control.scan import scan_jobs
from helmq.domain.jobs import JobsConfig
from helmq.errors import BrokerError
from helmq.runtime import Runtime
from helmq.store.repository import Repository
from helmq.web.scans import ScanStarted
from tasks.app import make_celery

log = logging.getLogger(__name__)


class ScanLauncher:
    """Starts discovery of one job now, without waiting for it."""

    def __init__(self, settings: Settings, repo: Callable[[], Repository],
                 jobs: Callable[[], JobsConfig], celery: Callable[[], Any]) -> None:
        self.settings = settings
        self._repo, self._jobs, self._make_celery = repo, jobs, celery
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._celery: Any = None

    def launch(self, job: str) -> ScanStarted:
        """Send `helmq.scan` to the workers when a broker is configured, else scan in a thread."""
        if not self.settings.embedded:
            return self._send(job)
        with self._lock:
            if job in self._running:
                return ScanStarted(job, "thread", already_running=True)
            self._running.add(job)
        threading.Thread(target=self._scan, args=(job,), name=f"helmq-ui-scan-{job}",
                         daemon=True).start()
        return ScanStarted(job, "thread")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait for this process's scans to finish (tests, shutdown); False on timeout."""
        for thread in threading.enumerate():
            if thread.name.startswith("helmq-ui-scan-"):
                thread.join(timeout)
        return not self._running

    def _send(self, job: str) -> ScanStarted:
        with self._lock:
            if self._celery is None:
                self._celery = self._make_celery()
        try:
            result = self._celery.send_task("helmq.scan", kwargs={"job": job},
                                            retry_policy={"max_retries": 1})
        except OperationalError as exc:
            url = self._celery.connection_for_write().as_uri()  # as_uri() masks the password
            raise BrokerError(f"cannot reach the broker at {url} to start a scan of {job}: "
                              f"{exc}") from exc
        return ScanStarted(job, "celery", task_id=result.id)

    def _scan(self, job: str) -> None:
        try:
            jobs = self._jobs()
            # As `helmq scan` does: without repos in jobs.yaml, the current directory.
            repos = list(jobs.repos) or [Path.cwd()]
            for scan in scan_jobs(self._repo(), jobs, repos=repos, only=job,
                                  cache_dir=self.settings.scan_cache_dir):
                log.info("scan %s from the UI: %s", scan.job, scan.as_dict())
        except Exception:
            log.exception("scan of %s started from the UI failed", job)
        finally:
            with self._lock:
                self._running.discard(job)


def launcher(rt: Runtime) -> ScanLauncher:
    """The UI's scan starter for the process's runtime."""
    return ScanLauncher(rt.settings, lambda: rt.repo, lambda: rt.jobs, lambda: make_celery(rt))
