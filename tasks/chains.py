"""Chains: classify → execute → review per item, published only after the DB committed."""

from __future__ import annotations

from collections.abc import Iterable

from celery import Celery, chain
from celery.canvas import Signature

from helmq.domain.model import Stage
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
    n = 0
    with app.producer_or_acquire() as producer:
        for d in dispatches:
            chain_for(app, d).apply_async(producer=producer)
            n += 1
    return n
