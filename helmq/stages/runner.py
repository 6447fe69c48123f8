"""One stage step: claim with a compare-and-set, run the stage function, record the outcome."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace

from helmq.config.settings import Settings
from helmq.domain.item import Handoff, WorkItem
from helmq.domain.model import Stage, Status, Tier
from helmq.domain.outcome import FailureClass, Outcome
from helmq.errors import CheckError, HelmqError, WorktreeError
from helmq.stages.classify import classify
from helmq.stages.execute import execute
from helmq.stages.review import review
from helmq.store.repository import Dispatch, Repository
from helmq.tiers.context import StageContext

log = logging.getLogger(__name__)

STAGES: dict[Stage, Callable[[WorkItem, StageContext], Outcome]] = {
    Stage.CLASSIFY: classify,
    Stage.EXECUTE: execute,
    Stage.REVIEW: review,
}

FAILURE_CLASSES: tuple[tuple[type[Exception], FailureClass], ...] = (
    (WorktreeError, FailureClass.WORKTREE),
    (CheckError, FailureClass.CHECK_ERROR),
    (HelmqError, FailureClass.ERROR),
)


@dataclass(frozen=True)
class Step:
    """What a stage task does next: pass `next` down the chain and/or publish `rework`."""

    next: Handoff | None = None
    rework: Dispatch | None = None


def _failure(exc: Exception) -> Outcome:
    # Celery's soft time limit surfaces inside the stage; matched by name because stages
    # never import Celery.
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        return Outcome.failed(FailureClass.TIMEOUT, "the stage ran past its soft time limit",
                              label="timeout", error=repr(exc))
    for kind, failure_class in FAILURE_CLASSES:
        if isinstance(exc, kind):
            return Outcome.failed(failure_class, str(exc), error=str(exc))
    # An unexpected exception is a bug or an environment problem: keep the traceback.
    tb = "".join(traceback.format_exception(exc, limit=8))
    return Outcome.failed(FailureClass.CRASH, f"{type(exc).__name__}: {exc}", label="crashed",
                          error=tb)


def _within_job(outcome: Outcome, item: WorkItem, ctx: StageContext) -> Outcome:
    """An outcome bound for a stage the item's job does not list (jobs.yaml `stages:`) ends
    the chain there: the item is done."""
    job = ctx.jobs.jobs.get(item.job) if ctx.jobs is not None else None
    if job is None or not outcome.continues or outcome.stage is None \
            or outcome.stage.value in job.stages:
        return outcome
    return replace(outcome, status=Status.DONE, stage=None,
                   message=f"{outcome.message}; done: job {item.job} has no {outcome.stage} stage")


def _queue_lease(settings: Settings, item: WorkItem, outcome: Outcome) -> float:
    """How long the next message may wait in its queue before it is presumed lost. The claude
    queue drains one session (up to max_minutes and its pauses) at a time, so its messages
    may rightly wait for hours."""
    tier = outcome.tier or item.tier
    to_execute = outcome.stage is Stage.EXECUTE or outcome.status is Status.NEEDS_WORK
    if to_execute and tier is Tier.CLAUDE_SESSION:
        return max(settings.queue_lease_seconds, settings.claude_queue_lease_seconds)
    return settings.queue_lease_seconds


def run_stage(
    repo: Repository,
    settings: Settings,
    ctx: StageContext,
    stage: Stage,
    handoff: Handoff,
    *,
    task_id: str | None = None,
    worker: str | None = None,
) -> Step:
    """Run `stage` for the item in `handoff`; a stale or duplicate handoff changes nothing."""
    claim = repo.claim_stage(handoff, stage, lease_seconds=settings.stage_lease_seconds,
                             task_id=task_id, worker=worker)
    if claim is None:
        log.info("%s: item %s attempt %s is not queued for it; stale message dropped",
                 stage, handoff["item"], handoff["attempt"])
        return Step()
    try:
        outcome = STAGES[stage](claim.item, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the item
        log.warning("%s of item %s failed: %s", stage, claim.item.item_key, exc)
        outcome = _failure(exc)
    outcome = _within_job(outcome, claim.item, ctx)
    finish = repo.finish_stage(claim, outcome, max_review_rounds=settings.max_review_rounds,
                               lease_seconds=_queue_lease(settings, claim.item, outcome))
    if not finish.applied:
        log.info("%s of item %s: item changed meanwhile; outcome dropped", stage, claim.item.id)
        return Step()
    if outcome.continues:
        tier = outcome.tier or claim.item.tier
        return Step(next=Handoff(item=claim.item.id, attempt=claim.item.attempt,
                                 tier=tier.value if tier else None))
    return Step(rework=finish.rework)
