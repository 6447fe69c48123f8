"""Chains: classify → execute → review per item, published only after the DB committed."""

from __future__ import annotations

from collections.abc import Iterable

from celery import Celery, chain
from celery.canvas import Signature
from kombu.exceptions import OperationalError

from helmq.domain.model import Stage
from helmq.errors import BrokerError
from helmq.store.repository import Dispatch

ORDER = (Stage.CLASSIFY, Stage.EXECUTE, Stage.REVIEW)


def chain_for(app: Celery, dispatch: Dispatch) -> Signature:
    """The rest of the pipeline from the dispatch's stage on, carrying its handoff."""
    stages = ORDER[ORDER.index(dispatch.stage):]
    first = app.signature(f"helmq.{stages[0]}", args=(dispatch.handoff,))
    rest = [app.signature(f"helmq.{s}") for s in stages[1:]]
    return chain(first, *rest, app=app) if rest else first


def publish(app: Celery, dispatches: Iterable[Dispatch]) -> int:
    """Send one chain per dispatch; the reconciler re-sends any that get lost."""
    dispatches = list(dispatches)
    if not dispatches:
        return 0
    try:
        with app.producer_or_acquire() as producer:
            for d in dispatches:
                chain_for(app, d).apply_async(producer=producer)
    except OperationalError as exc:
        url = app.connection_for_write().as_uri()  # as_uri() masks the password
        raise BrokerError(
            f"cannot reach the broker at {url}: {str(exc).rstrip('.')}. The {len(dispatches)} "
            "item(s) stay queued in the database and the reconciler re-sends them once it is back"
        ) from exc
    return len(dispatches)
