"""The doctor's queries: stuck leases, failures and waits by class, breakers, latest scans."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, select

from helmq.domain.clock import utcnow
from helmq.domain.model import IN_FLIGHT, Status
from helmq.store.schema import scans, stage_runs, work_items
from helmq.store.session_queries import SessionQueries, tier_breakers

ID_CAP = 20
"""At most this many item ids per group: enough to start with `helmq show`."""


@dataclass(frozen=True)
class Group:
    """How many items match, a few of their ids (lowest first) and the oldest timestamp."""

    count: int
    ids: list[int] = field(default_factory=list)
    oldest: datetime | None = None


def _groups(conn: Connection, key: Any, stamp: Any, cond: ColumnElement[bool],
            cap: int) -> dict[str, Group]:
    """Items matching `cond` grouped by `key`: counts, capped ids and min(`stamp`)."""
    totals = conn.execute(
        select(key, func.count(), func.min(stamp)).where(cond).group_by(key)
    ).all()
    out: dict[str, Group] = {}
    for name, count, oldest in totals:
        ids = conn.execute(
            select(work_items.c.id).where(cond, key.is_(None) if name is None else key == name)
            .order_by(work_items.c.id).limit(cap)
        ).scalars().all()
        out[name or ""] = Group(count, list(ids), oldest)
    return out


class DoctorQueries(SessionQueries):
    """Named read queries (and two repairs) for `helmq doctor`."""

    def expired_leases(self, now: datetime | None = None, cap: int = ID_CAP
                       ) -> dict[str, Group]:
        """In-flight items whose lease has passed, by status; `oldest` is the oldest lease."""
        now = now or utcnow()
        cond = (work_items.c.status.in_([s.value for s in IN_FLIGHT])
                & (work_items.c.lease_until < now))
        with self._reading() as conn:
            return _groups(conn, work_items.c.status, work_items.c.lease_until, cond, cap)

    def requeued(self, cap: int = ID_CAP) -> dict[str, Group]:
        """Queued items the reconciler had to re-send at least once, by tier."""
        cond = (work_items.c.status == Status.QUEUED) & (work_items.c.redispatches > 0)
        with self._reading() as conn:
            return _groups(conn, work_items.c.tier, work_items.c.updated_at, cond, cap)

    def failed_by_class(self, since: datetime | None = None, cap: int = ID_CAP
                        ) -> dict[str, Group]:
        """Failed items by failure class (those that failed since `since`, or all)."""
        cond = work_items.c.status == Status.FAILED
        if since is not None:
            cond = cond & (work_items.c.updated_at >= since)
        with self._reading() as conn:
            return _groups(conn, work_items.c.failure_class, work_items.c.updated_at, cond, cap)

    def run_errors_by_class(self, since: datetime) -> dict[str, int]:
        """Stage runs started since `since` that ended with an error class, by class."""
        c = stage_runs.c
        with self._reading() as conn:
            rows = conn.execute(
                select(c.error_class, func.count())
                .where(c.started_at >= since, c.error_class.is_not(None))
                .group_by(c.error_class)
            ).all()
        return dict(rows)  # pairs

    def waiting_by_reason(self, cap: int = ID_CAP) -> dict[str, Group]:
        """Waiting items by waiting reason; `oldest` is when the longest wait began."""
        with self._reading() as conn:
            return _groups(conn, work_items.c.waiting_reason, work_items.c.updated_at,
                           work_items.c.status == Status.WAITING, cap)

    def in_status(self, status: Status, cap: int = ID_CAP) -> Group:
        """Items in one status."""
        with self._reading() as conn:
            got = _groups(conn, work_items.c.status, work_items.c.updated_at,
                          work_items.c.status == status, cap)
        return got.get(status.value, Group(0))

    def close_cooled_breakers(self, now: datetime | None = None) -> list[str]:
        """Forget breakers whose cool-down has passed; the tiers they belonged to."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            tiers = conn.execute(
                delete(tier_breakers).where(tier_breakers.c.open_until <= now)
                .returning(tier_breakers.c.tier)
            ).scalars().all()
        return sorted(tiers)

    def latest_scans(self) -> dict[str, dict[str, Any]]:
        """The most recent discovery pass of every job that ever scanned."""
        latest = select(func.max(scans.c.id)).group_by(scans.c.job)
        with self._reading() as conn:
            rows = conn.execute(select(scans).where(scans.c.id.in_(latest))).mappings()
            return {r["job"]: dict(r) for r in rows}
