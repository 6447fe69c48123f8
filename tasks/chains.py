"""Chains: a job's stages (classify → execute → review, or those jobs.yaml lists) per item,
published only after the database committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from celery import Celery, chain
from celery.canvas import Signature
from kombu.exceptions import OperationalError

from helmq.domain.jobs import STAGES, JobsConfig
from helmq.errors import BrokerError
from helmq.store.repository import Dispatch


def job_stages(jobs: JobsConfig) -> dict[str, tuple[str, ...]]:
    """Each job's stages, as its chains run them."""
    return {name: job.stages for name, job in jobs.jobs.items()}


def chain_for(app: Celery, dispatch: Dispatch, stages: tuple[str, ...] = STAGES) -> Signature:
    """The rest of the job's chain from the dispatch's stage on, carrying its handoff."""
    rest = [s for s in stages if STAGES.index(s) >= STAGES.index(dispatch.stage.value)]
    if not rest or rest[0] != dispatch.stage.value:
        rest = [dispatch.stage.value, *rest]  # a stage the job no longer lists: finish it
    first = app.signature(f"helmq.{rest[0]}", args=(dispatch.handoff,))
    tail = [app.signature(f"helmq.{s}") for s in rest[1:]]
    return chain(first, *tail, app=app) if tail else first


def publish(app: Celery, dispatches: Iterable[Dispatch],
            stages: Mapping[str, tuple[str, ...]] | None = None) -> int:
    """Send one chain per dispatch (of its job's `stages`); the reconciler re-sends any that
    get lost."""
    dispatches = list(dispatches)
    if not dispatches:
        return 0
    stages = stages or {}
    try:
        with app.producer_or_acquire() as producer:
            for d in dispatches:
                chain_for(app, d, stages.get(d.job, STAGES)).apply_async(producer=producer)
    except OperationalError as exc:
        url = app.connection_for_write().as_uri()  # as_uri() masks the password
        raise BrokerError(
            f"cannot reach the broker at {url}: {str(exc).rstrip('.')}. The {len(dispatches)} "
            "item(s) stay queued in the database and the reconciler re-sends them once it is back"
        ) from exc
    return len(dispatches)
