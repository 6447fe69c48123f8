"""The pipeline's queries: dispatch, compare-and-set claims, outcomes, recurrence, reconcile."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from helmq.domain.clock import utcnow
from helmq.domain.item import Handoff, WorkItem
from helmq.domain.model import IN_FLIGHT, RUNNING, STAGE_RUNNING_STATUS, Stage, Status
from helmq.domain.outcome import Outcome
from helmq.store.pg_statements import PG_CLAIM, PG_FINISH, run_one
from helmq.store.rows import (
    DISPATCH_LOCK_KEY,
    Claim,
    Dispatch,
    Finish,
    RepositoryBase,
    json_patch,
    to_item,
)
from helmq.store.schema import stage_runs, work_items

# Built once: SQLAlchemy then reuses their cache keys and compiled forms on every call.
_INSERT_RUN = insert(stage_runs).returning(stage_runs.c.id)
_FINISH_RUN = update(stage_runs).where(stage_runs.c.id == bindparam("w_id"))
_CLAIM = (
    update(work_items)
    .where(
        work_items.c.id == bindparam("w_id"),
        work_items.c.status == bindparam("w_status"),
        work_items.c.stage == bindparam("w_stage"),
        work_items.c.attempt == bindparam("w_attempt"),
    )
    .returning(*work_items.c)
)
_FINISH = (
    update(work_items)
    .where(
        work_items.c.id == bindparam("w_id"),
        work_items.c.status == bindparam("w_status"),
        work_items.c.attempt == bindparam("w_attempt"),
    )
    .returning(*work_items.c)
)


class PipelineQueries(RepositoryBase):
    """Named queries that move items through dispatch, the stages and the reconciler."""

    def claim_eligible(
        self,
        job: str,
        *,
        accept: Callable[[WorkItem], bool],
        limit: int,
        lease_seconds: float,
        now: datetime | None = None,
        stage: Stage = Stage.CLASSIFY,
    ) -> list[Dispatch] | None:
        """Move up to `limit` eligible items of `job` to queued for `stage` (the job's first);
        None if another dispatcher runs.

        Candidates are pending items and waiting items whose retry time has passed, highest
        priority first; `accept` applies the job's filters. Rows are locked with
        FOR UPDATE SKIP LOCKED on Postgres.
        """
        now = now or utcnow()
        if limit <= 0:
            return []
        out: list[Dispatch] = []
        with self.engine.begin() as conn:
            if not self._try_lock(conn, DISPATCH_LOCK_KEY):
                return None
            rows = conn.execute(
                select(work_items)
                .where(
                    work_items.c.job == job,
                    or_(
                        work_items.c.status == Status.PENDING,
                        and_(
                            work_items.c.status == Status.WAITING,
                            work_items.c.lease_until <= now,
                        ),
                    ),
                )
                .order_by(work_items.c.priority.asc().nulls_last(), work_items.c.id)
                .with_for_update(skip_locked=True)
            ).mappings().all()
            for row in rows:
                item = to_item(row)
                if not accept(item):
                    continue
                out.append(self._queue(conn, item, stage, lease_seconds, now,
                                       fresh=True, why="eligible"))
                if len(out) >= limit:
                    break
        return out

    def _queue(
        self,
        conn: Connection,
        item: WorkItem,
        stage: Stage,
        lease_seconds: float,
        now: datetime,
        *,
        why: str,
        fresh: bool = False,
        reconciled: bool = False,
    ) -> Dispatch:
        """Queue `item` for `stage` under a new dispatch token.

        `fresh` starts a new run (counters reset); `reconciled` counts a re-dispatch
        towards the `lost` cap.
        """
        attempt = item.attempt + 1
        values: dict[str, Any] = {
            "status": Status.QUEUED,
            "stage": stage,
            "attempt": attempt,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "lease_owner": None,
            "updated_at": now,
        }
        if fresh:
            values.update(redispatches=0, review_rounds=0, failure_class=None,
                          waiting_reason=None)
        elif reconciled:
            values.update(redispatches=item.redispatches + 1)
        conn.execute(update(work_items).where(work_items.c.id == item.id).values(**values))
        self._event(conn, item.id, "transition", from_status=item.status, to_status=Status.QUEUED,
                    stage=stage, attempt=attempt, message=why, now=now)
        tier = item.tier.value if item.tier else None
        return Dispatch(Handoff(item=item.id, attempt=attempt, tier=tier), stage, item.job)

    def reset_recurring(self, now: datetime | None = None) -> int:
        """Return done recurring items to pending; their last_completed keeps them waiting."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(work_items.c.id, work_items.c.status).where(
                    work_items.c.status == Status.DONE, work_items.c.recurrence.is_not(None)
                )
            ).mappings().all()
            for row in rows:
                self._set_status(conn, row, Status.PENDING, "recurring: back to pending", now)
        return len(rows)

    # --- stages -------------------------------------------------------------------------

    def claim_stage(
        self,
        handoff: Handoff,
        stage: Stage,
        *,
        lease_seconds: float,
        task_id: str | None = None,
        worker: str | None = None,
        now: datetime | None = None,
    ) -> Claim | None:
        """Compare-and-set queued→running for this stage and token; None for a stale message."""
        now = now or utcnow()
        running = STAGE_RUNNING_STATUS[stage]
        if self.engine.dialect.name == "postgresql":
            row: RowMapping | Mapping[str, Any] | None = run_one(self.engine, PG_CLAIM, {
                "id": handoff["item"], "stage": stage.value, "attempt": handoff["attempt"],
                "running": running.value,
                "lease_until": now + timedelta(seconds=lease_seconds),
                "worker": worker, "task_id": task_id, "now": now,
                "detail": json.dumps({"task_id": task_id, "worker": worker}),
            })
            if row is None:
                return None
            return Claim(to_item(row), stage, row["run_id"])
        with self.engine.begin() as conn:
            row = conn.execute(_CLAIM, {
                "w_id": handoff["item"], "w_status": Status.QUEUED, "w_stage": stage,
                "w_attempt": handoff["attempt"], "status": running,
                "lease_until": now + timedelta(seconds=lease_seconds),
                "lease_owner": worker, "updated_at": now,
            }).mappings().first()
            if row is None:
                return None
            item = to_item(row)
            run_id = conn.execute(_INSERT_RUN, {
                "item_id": item.id, "stage": stage, "attempt": item.attempt, "tier": item.tier,
                "task_id": task_id, "worker": worker, "started_at": now,
            }).scalar_one()
            self._event(conn, item.id, "transition", from_status=Status.QUEUED,
                        to_status=running, stage=stage, attempt=item.attempt, now=now,
                        detail={"task_id": task_id, "worker": worker})
        return Claim(item, stage, run_id)

    def finish_stage(
        self,
        claim: Claim,
        outcome: Outcome,
        *,
        max_review_rounds: int,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> Finish:
        """Apply a stage's outcome with a compare-and-set on the claimed token."""
        now = now or utcnow()
        item, stage = claim.item, claim.stage
        running = STAGE_RUNNING_STATUS[stage]
        values: dict[str, Any] = {
            "status": outcome.status,
            "stage": outcome.stage if outcome.continues else stage,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
            "failure_class": outcome.failure_class,
            "waiting_reason": outcome.waiting_reason,
        }
        if outcome.tier is not None:
            values["tier"] = outcome.tier
        if outcome.continues:
            values["lease_until"] = now + timedelta(seconds=lease_seconds)
        if outcome.status is Status.WAITING and outcome.retry_after_seconds is not None:
            values["lease_until"] = now + timedelta(seconds=outcome.retry_after_seconds)
        if outcome.status is Status.DONE:
            values["last_completed"] = now
        for key in ("branch", "report_path"):
            if getattr(outcome, key) is not None:
                values[key] = getattr(outcome, key)
        rework = outcome.status is Status.NEEDS_WORK and item.review_rounds + 1 < max_review_rounds
        if outcome.status is Status.NEEDS_WORK:
            values["review_rounds"] = item.review_rounds + 1
        if self.engine.dialect.name == "postgresql" and outcome.status is not Status.NEEDS_WORK:
            row: RowMapping | Mapping[str, Any] | None = run_one(self.engine, PG_FINISH, {
                "id": item.id, "running": running.value, "attempt": item.attempt,
                "status": outcome.status.value, "next_stage": values["stage"],
                "stage": stage.value, "now": now, "lease_until": values["lease_until"],
                "failure_class": outcome.failure_class,
                "waiting_reason": outcome.waiting_reason,
                "tier": outcome.tier.value if outcome.tier else None,
                "last_completed": values.get("last_completed"),
                "branch": outcome.branch, "report_path": outcome.report_path,
                "patch": json.dumps(outcome.data or {}), "cost": outcome.cost_usd or 0,
                "label": outcome.label, "error": outcome.error,
                "run_id": claim.run_id,
                "run_detail": json.dumps({"message": outcome.message}),
                "message": outcome.message,
                "detail": json.dumps({"outcome": outcome.label,
                                      "failure_class": outcome.failure_class}),
            })
            return Finish(applied=row is not None)
        with self.engine.begin() as conn:
            exprs: dict[str, Any] = {}
            if outcome.data:
                exprs["data"] = json_patch(conn, outcome.data)
            if outcome.cost_usd:
                exprs["cost_usd"] = work_items.c.cost_usd + outcome.cost_usd
            stmt = _FINISH.values(**exprs) if exprs else _FINISH
            row = conn.execute(stmt, {
                "w_id": item.id, "w_status": running, "w_attempt": item.attempt, **values,
            }).mappings().first()
            conn.execute(_FINISH_RUN, {
                "w_id": claim.run_id, "finished_at": now,
                "outcome": outcome.label if row is not None else "dropped",
                "cost_usd": outcome.cost_usd, "error_class": outcome.failure_class,
                "error": outcome.error, "detail": {"message": outcome.message},
            })
            if row is None:
                return Finish(applied=False)
            self._event(conn, item.id, "transition", from_status=running,
                        to_status=outcome.status, stage=stage, attempt=item.attempt,
                        message=outcome.message, now=now,
                        detail={"outcome": outcome.label, "failure_class": outcome.failure_class})
            if rework:
                return Finish(True, self._queue(
                    conn, to_item(row), Stage.EXECUTE, lease_seconds, now,
                    why="review asked for another round"))
        return Finish(applied=True)

    # --- reconcile ----------------------------------------------------------------------

    def reclaim_expired(
        self,
        *,
        max_redispatches: int,
        lease_seconds: float,
        everything: bool = False,
        now: datetime | None = None,
    ) -> list[Dispatch] | None:
        """Re-queue in-flight items whose lease expired; fail them as `lost` past the cap.

        With `everything`, every in-flight item counts as lost (an embedded broker that
        restarted holds no messages). None when another reconciler holds the lock.
        """
        now = now or utcnow()
        out: list[Dispatch] = []
        cond: ColumnElement[bool] = work_items.c.status.in_([s.value for s in IN_FLIGHT])
        if not everything:
            cond = and_(cond, work_items.c.lease_until < now)
        with self.engine.begin() as conn:
            if not self._try_lock(conn, DISPATCH_LOCK_KEY):
                return None
            rows = conn.execute(
                select(work_items).where(cond).with_for_update(skip_locked=True)
            ).mappings().all()
            for row in rows:
                item = to_item(row)
                stage = item.stage or Stage.CLASSIFY
                was = "running" if item.status in RUNNING else "queued"
                if item.redispatches >= max_redispatches:
                    conn.execute(
                        update(work_items).where(work_items.c.id == item.id).values(
                            status=Status.FAILED, failure_class="lost", lease_until=None,
                            updated_at=now)
                    )
                    self._event(conn, item.id, "transition", from_status=item.status,
                                to_status=Status.FAILED, stage=stage, attempt=item.attempt,
                                message=f"lost: {item.redispatches} re-dispatches did not "
                                f"finish the {stage} stage", now=now)
                    continue
                out.append(self._queue(conn, item, stage, lease_seconds, now, reconciled=True,
                                       why=f"reconciled: {was} item's lease expired"))
        return out
