"""The embedded default: a Celery worker (threads pool) and beat inside this process.

The in-process broker loses its messages when the process ends; the database does not,
so start() first re-queues everything that was in flight.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.beat import EmbeddedService
from celery.worker import WorkController
from celery.worker import state as worker_state
from kombu.transport.memory import Channel as MemoryChannel

from helmq.domain.model import QUEUES

log = logging.getLogger(__name__)


class _Worker(WorkController):
    """A WorkController that says when its consumer is ready."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        super().on_consumer_ready(consumer)
        self.ready.set()


class EmbeddedWorker:
    """Worker threads for every queue (and optionally beat) in this process."""

    def __init__(self, app: Celery, *, concurrency: int = 4, beat: bool = False,
                 schedule_file: str | None = None) -> None:
        self.app = app
        self.concurrency = concurrency
        self.with_beat = beat
        self.schedule_file = schedule_file
        self._worker: _Worker | None = None
        self._thread: threading.Thread | None = None
        self._beat: Any = None

    def start(self, timeout: float = 30.0) -> None:
        """Start consuming; returns once the consumer is ready."""
        self.app.finalize()
        # Pool threads see the default app (current_app is thread-local): chain steps they
        # publish must go to this app's broker, not to a default amqp://localhost.
        self.app.set_default()
        self._worker = _Worker(
            app=self.app,
            hostname="helmq-embedded@localhost",
            pool="threads",
            concurrency=self.concurrency,
            queues=list(QUEUES),
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.WARNING,
        )
        self._thread = threading.Thread(target=self._worker.start, name="helmq-worker",
                                        daemon=True)
        self._thread.start()
        if not self._worker.ready.wait(timeout):
            raise RuntimeError("the embedded Celery worker did not start within "
                               f"{timeout:.0f} s")
        if self.with_beat:
            self._beat = EmbeddedService(self.app, thread=True,
                                         schedule_filename=self.schedule_file)
            self._beat.start()

    def idle(self) -> bool:
        """True when no task runs or waits in this process's worker and broker."""
        if worker_state.active_requests or worker_state.reserved_requests:
            return False
        return not any(q.qsize() for q in MemoryChannel.queues.values())

    def stop(self) -> None:
        """Stop beat, let running tasks finish, stop the worker."""
        if self._beat is not None:
            self._beat.stop()
        if self._thread is None:
            return
        worker_state.should_terminate = 0
        if self._worker is not None:
            # A warm stop: returns once the pool has finished its running tasks.
            self._worker.stop(in_sighandler=False)
        # The consumer loop notices within its 2 s drain timeout; the thread is a daemon,
        # so nothing is lost by not waiting for that.
        self._thread.join(0.5)
        worker_state.should_terminate = None
