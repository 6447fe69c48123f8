"""The dispatch tick: reset recurring items, then queue every eligible item of every job."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from helmq.config.settings import Settings
from helmq.domain.eligibility import matches_filter, recurrence_due, user_idle
from helmq.domain.item import WorkItem
from helmq.domain.jobs import JobsConfig
from helmq.domain.model import Stage, Status
from helmq.repos.last_active import read_last_active
from helmq.stages.classify import EXECUTABLE_TIERS
from helmq.store.repository import Dispatch, Repository

log = logging.getLogger(__name__)


def still_blocked(item: WorkItem, settings: Settings) -> bool:
    """A waiting item whose cause has not changed: retrying would only add events."""
    if item.status is not Status.WAITING:
        return False
    if item.waiting_reason == "no_credentials":
        return settings.anthropic_api_key is None
    if item.waiting_reason == "tier_unavailable":
        return item.tier is not None and item.tier not in EXECUTABLE_TIERS
    return False


@dataclass
class Tick:
    """What one dispatch tick did, and why jobs were skipped."""

    dispatched: list[Dispatch] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    reset: int = 0


def dispatch_tick(
    repo: Repository,
    jobs: JobsConfig,
    settings: Settings,
    *,
    ignore_idle: bool = False,
    limit: int | None = None,
    now: datetime | None = None,
    repos: Collection[str] | None = None,
) -> Tick:
    """Queue eligible items: the user idle long enough, the data filter, the recurrence guard;
    with `repos` (`run-once --repo`), only the items found in those repositories."""
    now = now or datetime.now(UTC)
    tick = Tick(reset=repo.reset_recurring(now))
    last = read_last_active(settings.last_active_path)
    if last.problem:
        log.warning("%s (treating the user as active)", last.problem)
    budget = settings.max_in_flight - repo.count_in_flight()
    if limit is not None:
        budget = min(budget, limit)
    paused_in_ui = repo.paused_jobs()
    for name, job in jobs.jobs.items():
        if job.paused or name in paused_in_ui:
            tick.skipped[name] = "paused" if job.paused else "paused from the UI"
            continue
        idle_min = job.eligibility.require_user_idle_minutes
        if not ignore_idle and not user_idle(last.at, now, idle_min):
            tick.skipped[name] = f"user active within the last {idle_min:g} min"
            continue
        if budget <= 0:
            break

        def accept(item: WorkItem, _filter=job.eligibility.data_filter) -> bool:
            if still_blocked(item, settings):
                return False
            if repos is not None and item.repo not in repos:
                return False
            return matches_filter(item.filter_data, _filter) and recurrence_due(
                item.recurrence, item.last_completed, now
            )

        got = repo.claim_eligible(name, accept=accept, limit=budget,
                                  lease_seconds=settings.queue_lease_seconds, now=now,
                                  stage=Stage(job.stages[0]))
        if got is None:
            tick.skipped[name] = "another dispatcher holds the lock"
            continue
        tick.dispatched.extend(got)
        budget -= len(got)
    return tick
