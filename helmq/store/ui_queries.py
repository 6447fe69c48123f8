"""The web UI's queries: pages of items, capped counts, a person's actions, job pause, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping

from helmq.domain.clock import utcnow
from helmq.domain.item import WorkItem
from helmq.domain.model import RUNNING, Status
from helmq.store.job_state import SEARCH_TEXT_SQL, job_state
from helmq.store.rows import RepositoryBase, json_patch, to_item
from helmq.store.schema import stage_runs, work_items

RETRYABLE = frozenset({Status.FAILED, Status.WAITING, Status.NEEDS_WORK, Status.REJECTED})
"""Statuses a person may send back to pending. Not gone: discovery no longer finds the work."""
APPROVABLE = frozenset({Status.NEEDS_WORK})
REJECTABLE = frozenset(Status) - RUNNING - {Status.REJECTED}
"""A queued item may be rejected: its message then finds no queued row and is dropped."""

SORTS = {
    "updated": (work_items.c.updated_at.desc(), work_items.c.id.desc()),
    "created": (work_items.c.created_at.desc(), work_items.c.id.desc()),
    "priority": (work_items.c.priority.asc().nulls_last(), work_items.c.id.asc()),
    "cost": (work_items.c.cost_usd.desc(), work_items.c.id.desc()),
    "id": (work_items.c.id.desc(),),
}
"""The list orders a person can pick; the first is the default."""


@dataclass(frozen=True)
class ItemFilter:
    """Which items a list page or /api/items shows, and in which order."""

    jobs: frozenset[str] | None = None
    """Only items of these jobs (with `exclude_jobs`: of any other job)."""
    exclude_jobs: bool = False
    job: str | None = None
    status: str | None = None
    tier: str | None = None
    search: str | None = None
    """A substring of the title or item key, or `#123` / `123` for an id."""
    sort: str = "updated"


class Refusal(StrEnum):
    """Why a person's action on an item was not applied."""

    NOT_FOUND = "not_found"
    """No item has that id."""
    NOT_ALLOWED = "not_allowed"
    """The action does not apply to the item's status."""
    CHANGED = "changed"
    """A stage or another person changed the item between the read and the write."""


@dataclass(frozen=True)
class ActionResult:
    """What a person's action did: the item after it, or why it was refused."""

    item: WorkItem | None
    refused: Refusal | None = None
    message: str = ""


@dataclass(frozen=True)
class StageDurations:
    """Durations of one stage's finished runs: count, sum and cumulative bucket counts."""

    stage: str
    count: int
    seconds: float
    buckets: tuple[tuple[float, int], ...]


_EVENT_KIND = {"retry": "retried", "approve": "approved", "reject": "rejected"}

DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


def _filtered(query, conn: Connection, f: ItemFilter):
    c = work_items.c
    if f.jobs is not None:
        query = query.where(c.job.not_in(sorted(f.jobs)) if f.exclude_jobs
                            else c.job.in_(sorted(f.jobs)))
    if f.job:
        query = query.where(c.job == f.job)
    if f.status:
        query = query.where(c.status == f.status)
    if f.tier:
        query = query.where(c.tier == f.tier)
    if f.search:
        query = query.where(_search(conn, f.search))
    return query


def _search(conn: Connection, raw: str):
    term = raw.strip()
    if term.lstrip("#").isdigit():
        return work_items.c.id == int(term.lstrip("#"))
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if conn.dialect.name == "postgresql":
        # Spelled as the trigram index of migration 0004 spells it, so the index is used.
        haystack: ColumnElement[Any] = literal_column(SEARCH_TEXT_SQL, String)
    else:
        haystack = (func.coalesce(func.json_extract(work_items.c.data, "$.title"), "")
                    + " " + work_items.c.item_key)
    return haystack.ilike(f"%{escaped}%", escape="\\")


def _duration_seconds(conn: Connection):
    r = stage_runs.c
    if conn.dialect.name == "postgresql":
        # date_part is double precision; extract() would compute in slower numeric.
        return func.date_part("epoch", r.finished_at - r.started_at)
    return (func.julianday(r.finished_at) - func.julianday(r.started_at)) * 86400.0


class UIQueries(RepositoryBase):
    """Named queries the web UI runs; each public method is one transaction."""

    # --- reading ------------------------------------------------------------------------

    def page_items(self, f: ItemFilter, *, limit: int, offset: int = 0) -> list[WorkItem]:
        """One page of items matching `f`, in its order."""
        with self._reading() as conn:
            query = _filtered(select(work_items), conn, f)
            query = query.order_by(*SORTS.get(f.sort, SORTS["updated"]))
            rows = conn.execute(query.limit(limit).offset(offset)).mappings()
            return [to_item(r) for r in rows]

    def count_items(self, f: ItemFilter, *, cap: int) -> int:
        """How many items match `f`, counting no further than cap + 1 (so big tabs stay fast)."""
        with self._reading() as conn:
            inner = _filtered(select(work_items.c.id), conn, f).limit(cap + 1).subquery()
            return conn.execute(select(func.count()).select_from(inner)).scalar_one()

    def ping(self) -> None:
        """One round trip to the database; raises when it is unreachable."""
        with self._reading() as conn:
            conn.execute(text("SELECT 1"))

    # --- a person's actions -------------------------------------------------------------

    def retry_item(self, item_id: int, *, by: str = "ui", now: datetime | None = None
                   ) -> ActionResult:
        """Send a failed, waiting, needs_work or rejected item back to pending; history stays."""
        return self._act(item_id, "retry", RETRYABLE, Status.PENDING, by, now,
                         "retried by a person: back to pending",
                         values={"stage": None, "failure_class": None, "waiting_reason": None})

    def approve_item(self, item_id: int, *, by: str = "ui", now: datetime | None = None
                     ) -> ActionResult:
        """Accept a needs_work item as it is: done, with the review verdict `accept`."""
        def review(row: RowMapping) -> dict[str, Any]:
            old = dict((row["data"] or {}).get("review") or {})
            return {"review": {**old, "verdict": "accept", "approved_by": by,
                               "reviewer_verdict": old.get("verdict")}}

        return self._act(item_id, "approve", APPROVABLE, Status.DONE, by, now,
                         "approved by a person: accepted as it is",
                         values={"failure_class": None, "waiting_reason": None},
                         patch=review, completed=True)

    def reject_item(self, item_id: int, *, by: str = "ui", now: datetime | None = None
                    ) -> ActionResult:
        """Reject an item that no stage holds; it stays rejected until its content changes."""
        return self._act(item_id, "reject", REJECTABLE, Status.REJECTED, by, now,
                         "rejected by a person")

    def _act(self, item_id: int, action: str, allowed: frozenset[Status], to: Status, by: str,
             now: datetime | None, message: str, *, values: dict[str, Any] | None = None,
             patch=None, completed: bool = False) -> ActionResult:
        now = now or utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(work_items).where(work_items.c.id == item_id)
                               ).mappings().first()
            if row is None:
                return ActionResult(None, Refusal.NOT_FOUND, f"no item with id {item_id}")
            status = Status(row["status"])
            if status not in allowed:
                return ActionResult(to_item(row), Refusal.NOT_ALLOWED,
                                    f"item {item_id} is {status}; {action} applies only to "
                                    f"{', '.join(sorted(allowed))} items")
            new: dict[str, Any] = {"status": to, "updated_at": now, "lease_until": None,
                                   "lease_owner": None, **(values or {})}
            if completed:
                new["last_completed"] = now
            if patch is not None:
                new["data"] = json_patch(conn, patch(row))
            # Compare-and-set: a stage that claimed the item meanwhile changed status/attempt.
            got = conn.execute(
                update(work_items)
                .where(work_items.c.id == item_id, work_items.c.status == row["status"],
                       work_items.c.attempt == row["attempt"])
                .values(**new).returning(*work_items.c)
            ).mappings().first()
            if got is None:
                return ActionResult(to_item(row), Refusal.CHANGED,
                                    f"item {item_id} changed meanwhile; reload and try again")
            self._event(conn, item_id, _EVENT_KIND[action], from_status=row["status"], to_status=to,
                        attempt=row["attempt"], message=message, detail={"by": by}, now=now)
            return ActionResult(to_item(got), message=message)

    # --- jobs ---------------------------------------------------------------------------

    def set_job_paused(self, job: str, paused: bool, *, reason: str | None = None,
                       now: datetime | None = None) -> None:
        """Pause or resume `job` until someone changes it again (survives restarts)."""
        values = {"job": job, "paused": paused, "reason": reason, "updated_at": now or utcnow()}
        with self.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(job_state).values(**values)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=[job_state.c.job],
                set_={k: stmt.excluded[k] for k in ("paused", "reason", "updated_at")}))

    def job_states(self) -> dict[str, dict[str, Any]]:
        """Every job a person paused or resumed, with when and why."""
        with self._reading() as conn:
            return {r["job"]: dict(r) for r in conn.execute(select(job_state)).mappings()}

    def paused_jobs(self) -> set[str]:
        """Jobs a person paused; dispatch skips them as it skips jobs.yaml's `paused: true`."""
        with self._reading() as conn:
            return set(conn.execute(select(job_state.c.job).where(job_state.c.paused)).scalars())

    # --- metrics ------------------------------------------------------------------------

    def items_by_status_tier(self) -> list[tuple[str, str | None, int]]:
        """(status, tier, count) over every item."""
        c = work_items.c
        with self._reading() as conn:
            return [tuple(r) for r in conn.execute(
                select(c.status, c.tier, func.count()).group_by(c.status, c.tier))]

    def oldest_pending_since(self) -> datetime | None:
        """When the longest-waiting pending item last changed (None when none is pending)."""
        c = work_items.c
        with self._reading() as conn:
            return conn.execute(select(func.min(c.updated_at)).where(
                c.status == Status.PENDING)).scalar()

    def stage_durations(self, since: datetime) -> list[StageDurations]:
        """Durations of the stage runs finished since `since`, per stage."""
        r = stage_runs.c
        with self._reading() as conn:
            runs = (select(r.stage, cast(_duration_seconds(conn), Float).label("secs"))
                    .where(and_(r.started_at >= since, r.finished_at.is_not(None)))
                    .subquery())
            cols = [func.count(), func.coalesce(func.sum(runs.c.secs), 0.0)]
            cols += [func.sum(case((runs.c.secs <= b, 1), else_=0)) for b in DURATION_BUCKETS]
            rows = conn.execute(
                select(runs.c.stage, *cols).group_by(runs.c.stage).order_by(runs.c.stage)
            ).all()
        return [StageDurations(row[0], row[1], float(row[2]),
                               tuple(zip(DURATION_BUCKETS, map(int, row[3:]), strict=True)))
                for row in rows]

    def cost_since(self, since: datetime) -> float:
        """US dollars the stage runs started since `since` recorded."""
        r = stage_runs.c
        with self._reading() as conn:
            return float(conn.execute(select(func.coalesce(func.sum(r.cost_usd), 0)).where(
                r.started_at >= since)).scalar_one())


def paused_jobs(source: Engine | RepositoryBase) -> set[str]:
    """Jobs paused from the UI, for the dispatcher (an engine or any repository will do)."""
    engine = source.engine if isinstance(source, RepositoryBase) else source
    return UIQueries(engine).paused_jobs()
