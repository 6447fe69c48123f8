"""The daily LLM cost ledger: one row per call, reserved before it and committed after it.

A reservation holds its estimate against the day's and the item's budget until the real
cost replaces it (`commit`) or the call is known not to have happened (`release`). The
check and the insert run in one transaction behind a lock, so two workers can never both
pass the check with the last of the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    case,
    func,
    insert,
    select,
    text,
    update,
)

from helmq.domain.clock import utcnow
from helmq.store.rows import DISPATCH_LOCK_KEY, RepositoryBase
from helmq.store.schema import Id, Money, UTCDateTime, metadata

BUDGET_LOCK_KEY = DISPATCH_LOCK_KEY + 0x100
"""pg_advisory_xact_lock key that serialises budget checks across workers."""


class Entry(StrEnum):
    """Where a ledger row stands."""

    RESERVED = "reserved"
    """An estimate held against the budget while the call runs."""
    COMMITTED = "committed"
    """The call happened; cost_usd is what it cost (the estimate if its price is unknown)."""
    RELEASED = "released"
    """The call did not happen or was not billed; it counts for nothing."""
    ABANDONED = "abandoned"
    """Reserved by a worker that never came back; charged at its estimate (fail closed)."""


llm_costs = Table(
    "llm_costs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("job", String(100), nullable=False),
    Column("item_id", Id, ForeignKey("work_items.id", ondelete="SET NULL")),
    Column("run_id", Id, ForeignKey("stage_runs.id", ondelete="SET NULL")),
    Column("stage", String(20)),
    Column("tier", String(20)),
    Column("model", String(100)),
    Column("state", String(12), nullable=False),
    Column("estimate_usd", Money, nullable=False),
    Column("cost_usd", Money),
    Column("priced", Boolean),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cache_write_tokens", Integer, nullable=False, default=0),
    Column("cache_read_tokens", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
    Index(None, "day", "state"),
    Index(None, "item_id"),
)

# What a row holds against the budget: open estimates, and costs of calls that happened.
_HELD = func.coalesce(func.sum(case(
    (llm_costs.c.state == Entry.RESERVED, llm_costs.c.estimate_usd),
    (llm_costs.c.state.in_([Entry.COMMITTED, Entry.ABANDONED]),
     func.coalesce(llm_costs.c.cost_usd, llm_costs.c.estimate_usd)),
    else_=0,
)), 0)


@dataclass(frozen=True)
class Spend:
    """Money held against the budgets when a reservation was checked (USD)."""

    day_usd: Decimal
    item_usd: Decimal
    """Zero when the call belongs to no item."""


MICRO_USD = Decimal("0.000001")
"""The ledger's precision (the Money columns'); SQLite sums in floats, so sums are rounded."""


def _usd(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(MICRO_USD)


class Ledger(RepositoryBase):
    """Named queries over llm_costs; each public method is one transaction."""

    def reserve(
        self,
        *,
        day: date,
        job: str,
        estimate_usd: Decimal,
        accept: Callable[[Spend], bool],
        item_id: int | None = None,
        run_id: int | None = None,
        stage: str | None = None,
        tier: str | None = None,
        model: str | None = None,
        item_since: datetime | None = None,
        now: datetime | None = None,
    ) -> tuple[int | None, Spend]:
        """Hold `estimate_usd` if `accept` allows it given what is held already.

        Returns the new row's id (None when refused) and the spend `accept` saw. The item's
        spend counts its rows since `item_since` (all of them when None).
        """
        now = now or utcnow()
        with self.engine.begin() as conn:
            self._lock(conn)
            spend = Spend(
                day_usd=_usd(conn.execute(
                    select(_HELD).where(llm_costs.c.day == day)).scalar()),
                item_usd=self._item_held(conn, item_id, item_since),
            )
            if not accept(spend):
                return None, spend
            row_id = conn.execute(insert(llm_costs).returning(llm_costs.c.id), {
                "day": day, "job": job, "item_id": item_id, "run_id": run_id, "stage": stage,
                "tier": tier, "model": model, "state": Entry.RESERVED,
                "estimate_usd": estimate_usd, "created_at": now, "updated_at": now,
            }).scalar_one()
        return row_id, spend

    def commit(
        self,
        entry_id: int,
        *,
        cost_usd: Decimal,
        priced: bool,
        model: str | None = None,
        tokens: dict[str, int] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record what a reserved call cost; False if the row is not an open reservation."""
        values: dict[str, Any] = {
            "state": Entry.COMMITTED, "cost_usd": cost_usd, "priced": priced,
            "updated_at": now or utcnow(), **(tokens or {}),
        }
        if model:
            values["model"] = model
        return self._close(entry_id, values)

    def release(self, entry_id: int, *, now: datetime | None = None) -> bool:
        """Drop a reservation whose call did not happen; False if it is not open."""
        return self._close(entry_id, {"state": Entry.RELEASED, "cost_usd": 0,
                                      "updated_at": now or utcnow()})

    def abandon_stale(self, *, before: datetime, now: datetime | None = None) -> int:
        """Charge reservations opened before `before` at their estimate; how many there were.

        Their worker died between reserve and commit: the call may have been billed.
        """
        with self.engine.begin() as conn:
            return conn.execute(
                update(llm_costs)
                .where(llm_costs.c.state == Entry.RESERVED, llm_costs.c.created_at < before)
                .values(state=Entry.ABANDONED, cost_usd=llm_costs.c.estimate_usd, priced=False,
                        updated_at=now or utcnow())
            ).rowcount

    def held_on(self, day: date) -> Decimal:
        """USD held against `day`'s budget: costs of calls made plus open reservations."""
        with self._reading() as conn:
            return _usd(conn.execute(select(_HELD).where(llm_costs.c.day == day)).scalar())

    def held_by_item(self, item_id: int, since: datetime | None = None) -> Decimal:
        """USD held against one item's budget (since `since`, or ever)."""
        with self._reading() as conn:
            return self._item_held(conn, item_id, since)

    def day_summary(self, day: date) -> list[dict[str, Any]]:
        """Calls, tokens and USD of `day` per job and model, for reports and the UI."""
        c = llm_costs.c
        query = (
            select(c.job, c.model, func.count().label("calls"),
                   func.sum(c.input_tokens).label("input_tokens"),
                   func.sum(c.output_tokens).label("output_tokens"),
                   func.sum(c.cache_write_tokens).label("cache_write_tokens"),
                   func.sum(c.cache_read_tokens).label("cache_read_tokens"),
                   _HELD.label("cost_usd"))
            .where(c.day == day, c.state != Entry.RELEASED)
            .group_by(c.job, c.model).order_by(c.job, c.model)
        )
        with self._reading() as conn:
            return [{**row, "cost_usd": _usd(row["cost_usd"])}
                    for row in conn.execute(query).mappings()]

    def entries(self, *, item_id: int | None = None, day: date | None = None) -> list[dict]:
        """Ledger rows of an item and/or a day, oldest first."""
        query = select(llm_costs).order_by(llm_costs.c.id)
        if item_id is not None:
            query = query.where(llm_costs.c.item_id == item_id)
        if day is not None:
            query = query.where(llm_costs.c.day == day)
        with self._reading() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # --- helpers ---------------------------------------------------------------------------

    def _close(self, entry_id: int, values: dict[str, Any]) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(
                update(llm_costs)
                .where(llm_costs.c.id == entry_id, llm_costs.c.state == Entry.RESERVED)
                .values(**values)
            ).rowcount == 1

    @staticmethod
    def _item_held(conn: Connection, item_id: int | None, since: datetime | None) -> Decimal:
        if item_id is None:
            return Decimal(0)
        query = select(_HELD).where(llm_costs.c.item_id == item_id)
        if since is not None:
            query = query.where(llm_costs.c.created_at >= since)
        return _usd(conn.execute(query).scalar())

    @staticmethod
    def _lock(conn: Connection) -> None:
        """Postgres: wait for the budget lock. SQLite: BEGIN IMMEDIATE already serialises."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": BUDGET_LOCK_KEY})
