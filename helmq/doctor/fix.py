"""`helmq doctor --fix`: reconcile once and close the breakers that have cooled down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from helmq.config.settings import Settings
from helmq.control.reconcile import reconcile as reclaim
from helmq.store.doctor_queries import DoctorQueries
from helmq.store.repository import Dispatch, Repository
from helmq.tiers.context import StageContext


def reconcile(repo: Repository, settings: Settings, ctx: StageContext,
              publish: Callable[[list[Dispatch]], int] | None,
              now: datetime | None = None) -> list[str]:
    """Run the reconciler once and close cooled breakers; what was done, one line each.

    `publish` sends the re-queued chains to running workers; None (embedded broker) leaves
    them queued in the database for the next `helmq up` or `run-once`.
    """
    now = now or datetime.now(UTC)
    done: list[str] = []
    queries = DoctorQueries(repo.engine)
    expired = sum(g.count for g in queries.expired_leases(now).values())
    got = reclaim(repo, settings, ctx, now=now)
    if got is None:
        done.append("another reconciler holds the dispatch lock: nothing re-queued, try again")
    elif got or expired:
        ids = ", ".join(f"#{d.handoff['item']}" for d in got)
        if got and publish is not None:
            publish(got)
            done.append(f"re-queued and re-sent {len(got)} item(s): {ids}")
        elif got:
            done.append(f"re-queued {len(got)} item(s) in the database: {ids}; they run on the "
                        "next `helmq up` or `helmq run-once`")
        if expired > len(got):
            done.append(f"failed {expired - len(got)} item(s) as `lost` after "
                        f"{settings.max_redispatches} re-dispatches")
    else:
        done.append("no expired lease to reclaim")
    closed = queries.close_cooled_breakers(now)
    if closed:
        done.append(f"closed cooled-down breaker(s): {', '.join(closed)}")
    return done
