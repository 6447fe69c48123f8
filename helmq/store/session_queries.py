"""Queries of long-running sessions: progress and heartbeats on the item, and tier breakers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Integer, String, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from helmq.domain.clock import utcnow
from helmq.domain.model import Status
from helmq.store.rows import RepositoryBase, json_patch
from helmq.store.schema import UTCDateTime, metadata, work_items

tier_breakers = Table(
    "tier_breakers",
    metadata,
    Column("tier", String(20), primary_key=True),
    Column("open_until", UTCDateTime(), nullable=False),
    Column("failures", Integer, nullable=False, default=1),
    Column("reason", Text),
    Column("opened_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
)
"""One row per tier whose executor failed in a way every item would (the CLI is missing, the
API key is refused). While open_until is ahead, the tier's items wait instead of failing."""

MAX_BACKOFF = 8
"""A breaker that keeps failing stays open up to this many cool-downs."""


@dataclass(frozen=True)
class Breaker:
    """An open tier breaker."""

    tier: str
    open_until: datetime
    failures: int
    reason: str | None


def _breaker(row: Any) -> Breaker:
    return Breaker(row["tier"], row["open_until"], row["failures"], row["reason"])


class SessionQueries(RepositoryBase):
    """Named queries the Claude session tier runs while a session is in progress."""

    def record_session(
        self,
        item_id: int,
        attempt: int,
        session: dict[str, Any],
        *,
        lease_seconds: float,
        session_id: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Merge `session` into the item's data["claude"], set its session_id and extend its
        lease; only while it is executing under `attempt`. False when the item was taken away."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            values: dict[str, Any] = {
                "data": json_patch(conn, {"claude": session}),
                "lease_until": now + timedelta(seconds=lease_seconds),
            }
            if session_id:
                values["session_id"] = session_id
            result = conn.execute(
                update(work_items)
                .where(work_items.c.id == item_id, work_items.c.attempt == attempt,
                       work_items.c.status == Status.EXECUTING)
                .values(**values)
            )
        return result.rowcount == 1

    def heartbeat(self, item_id: int, attempt: int, *, lease_seconds: float,
                  now: datetime | None = None) -> bool:
        """Extend the lease of an item executing under `attempt`; False when it is not."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(work_items)
                .where(work_items.c.id == item_id, work_items.c.attempt == attempt,
                       work_items.c.status == Status.EXECUTING)
                .values(lease_until=now + timedelta(seconds=lease_seconds))
            )
        return result.rowcount == 1

    # --- tier breakers ------------------------------------------------------------------

    def open_breaker(self, tier: str, reason: str, *, cooldown_seconds: float,
                     now: datetime | None = None) -> Breaker:
        """Open (or keep open, backing off) the breaker of `tier` after a tier-wide failure."""
        now = now or utcnow()
        for _ in range(2):  # a concurrent first insert: the second pass updates its row
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(
                        select(tier_breakers).where(tier_breakers.c.tier == tier)
                        .with_for_update()
                    ).mappings().first()
                    failures = (row["failures"] if row else 0) + 1
                    until = now + timedelta(
                        seconds=cooldown_seconds * min(2 ** (failures - 1), MAX_BACKOFF))
                    values = {"open_until": until, "failures": failures, "reason": reason,
                              "updated_at": now}
                    if row is None:
                        conn.execute(insert(tier_breakers).values(tier=tier, opened_at=now,
                                                                  **values))
                    else:
                        conn.execute(update(tier_breakers)
                                     .where(tier_breakers.c.tier == tier).values(**values))
                return Breaker(tier, until, failures, reason)
            except IntegrityError:
                continue
        raise RuntimeError(f"could not record the breaker of tier {tier}")

    def open_tier_breaker(self, tier: str, now: datetime | None = None) -> Breaker | None:
        """The breaker of `tier` if it is open now."""
        now = now or utcnow()
        with self._reading() as conn:
            row = conn.execute(
                select(tier_breakers).where(tier_breakers.c.tier == tier,
                                            tier_breakers.c.open_until > now)
            ).mappings().first()
        return _breaker(row) if row else None

    def close_breaker(self, tier: str) -> bool:
        """Forget the failures of `tier` after it worked again; True if it had any."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(tier_breakers).where(tier_breakers.c.tier == tier)).rowcount > 0

    def tier_breakers(self) -> list[Breaker]:
        """Every tier with recorded failures, open or cooling down (for the doctor and UI)."""
        with self._reading() as conn:
            rows = conn.execute(select(tier_breakers).order_by(tier_breakers.c.tier)).mappings()
            return [_breaker(r) for r in rows]
