"""execute: the item's job's handler runs it when jobs.yaml names one, else its tier does."""

from __future__ import annotations

import importlib

from helmq.domain.item import WorkItem
from helmq.domain.outcome import FailureClass, Outcome
from helmq.tiers import registry
from helmq.tiers.context import StageContext
from helmq.tiers.registry import Executor


def job_handler(item: WorkItem, ctx: StageContext) -> Executor | None:
    """The handler jobs.yaml names for the item's job (`handler:`), internal or external;
    None when it names none."""
    job = ctx.jobs.jobs.get(item.job) if ctx.jobs is not None else None
    if job is None or not job.handler:
        return None
    module, _, name = job.handler.rpartition(".")
    return getattr(importlib.import_module(module), name)


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the item with its job's handler, or else on the tier classify chose."""
    try:
        handler = job_handler(item, ctx)
    except (ImportError, AttributeError) as exc:
        msg = f"job {item.job}: cannot load its handler: {exc}; fix `handler` in jobs.yaml"
        return Outcome.failed(FailureClass.BAD_HANDLER, msg, error=msg)
    return (handler or registry.execute)(item, ctx)
