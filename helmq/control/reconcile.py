"""Reconciling: take back work whose worker or message was lost, and charge what it held.

One routine for every caller: the beat task (deployed), the embedded runner (`run-once`,
`up`) and `helmq doctor --fix`."""

from __future__ import annotations

from datetime import datetime, timedelta

from helmq.config.settings import Settings
from helmq.store.repository import Dispatch, Repository
from helmq.tiers.context import StageContext

STALE_RESERVATION_MARGIN_SECONDS = 600.0


def reconcile(repo: Repository, settings: Settings, ctx: StageContext, *,
              everything: bool = False, now: datetime | None = None) -> list[Dispatch] | None:
    """Re-queue in-flight items whose lease expired (all of them with `everything`: an
    embedded broker that restarted holds no messages) and fail those past the re-dispatch
    cap as `lost`; then charge budget reservations held longer than any stage may run.

    Returns the chains to publish once this has committed, or None when another reconciler
    holds the lock."""
    got = repo.reclaim_expired(max_redispatches=settings.max_redispatches,
                               lease_seconds=settings.queue_lease_seconds,
                               everything=everything, now=now)
    if ctx.llm is not None:
        # Reservations held longer than any stage (a Claude session included) may run
        # belong to dead workers: charge them at their estimate, as the budget already
        # counts them.
        longest = max(settings.stage_lease_seconds,
                      ctx.claude.task_time_limit if ctx.claude is not None else 0)
        ctx.llm.budget.abandon_stale(timedelta(seconds=longest + STALE_RESERVATION_MARGIN_SECONDS))
    return got
