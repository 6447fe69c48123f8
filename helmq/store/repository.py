"""The repository: every query helmq runs against work_items has a name here."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import RowMapping

from helmq.domain.item import Handoff, Outcome, WorkItem
from helmq.domain.model import (
    IN_FLIGHT,
    RUNNING,
    STAGE_RUNNING_STATUS,
    Finding,
    Stage,
    Status,
    Tier,
)
from helmq.store.engine import READ_ONLY_OPTION
from helmq.store.schema import item_events, stage_runs, utcnow, work_items

# One constant for pg_try_advisory_xact_lock: only one dispatcher or reconciler at a time.
DISPATCH_LOCK_KEY = 0x68656C6D71  # "helmq"
SCAN_LOCK_KEY = DISPATCH_LOCK_KEY + 1


@dataclass
class ScanCounts:
    """What an upsert of discovered findings changed."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0
    done: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class Claim:
    """A stage's hold on an item: the row as claimed and its stage_runs row."""

    item: WorkItem
    stage: Stage
    run_id: int


@dataclass(frozen=True)
class Finish:
    """How a stage's outcome landed."""

    applied: bool
    """False when the item was taken away meanwhile (reconciled, gone): outcome dropped."""
    rework: Dispatch | None = None
    """A new execute→review chain to publish: review asked for another round."""


@dataclass(frozen=True)
class Dispatch:
    """A chain to publish after commit: from `stage` on, for this handoff."""

    handoff: Handoff
    stage: Stage


def _item(row: RowMapping) -> WorkItem:
    return WorkItem(
        id=row["id"],
        job=row["job"],
        item_key=row["item_key"],
        fingerprint=row["fingerprint"],
        status=Status(row["status"]),
        stage=Stage(row["stage"]) if row["stage"] else None,
        tier=Tier(row["tier"]) if row["tier"] else None,
        priority=row["priority"],
        source_file=row["source_file"],
        line=row["line"],
        recurrence=row["recurrence"],
        last_completed=row["last_completed"],
        data=dict(row["data"] or {}),
        attempt=row["attempt"],
        redispatches=row["redispatches"],
        review_rounds=row["review_rounds"],
        lease_until=row["lease_until"],
        failure_class=row["failure_class"],
        waiting_reason=row["waiting_reason"],
        cost_usd=float(row["cost_usd"] or 0),
        session_id=row["session_id"],
        branch=row["branch"],
        report_path=row["report_path"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _json_patch(conn: Connection, patch: dict[str, Any]):
    """SQL for `data` with `patch`'s top-level keys replaced, merged inside the database.

    Merging in SQL keeps a concurrent discovery refresh of other keys intact.
    """
    if conn.dialect.name == "postgresql":
        return work_items.c.data.op("||")(literal(patch, JSONB))
    # Not json_patch: RFC 7396 would merge nested objects and delete keys set to null.
    args: list[Any] = []
    for key, value in patch.items():
        args += ['$."' + key + '"', func.json(json.dumps(value))]
    return func.json_set(work_items.c.data, *args)


class Repository:
    """Named queries over one engine; each public method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _reading(self) -> Connection:
        return self.engine.connect().execution_options(**{READ_ONLY_OPTION: True})

    # --- events -------------------------------------------------------------------------

    @staticmethod
    def _event(
        conn: Connection,
        item_id: int,
        kind: str,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        stage: str | None = None,
        attempt: int | None = None,
        message: str | None = None,
        detail: dict | None = None,
        now: datetime | None = None,
    ) -> None:
        conn.execute(
            insert(item_events).values(
                item_id=item_id,
                at=now or utcnow(),
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                stage=stage,
                attempt=attempt,
                message=message,
                detail=detail,
            )
        )

    def _try_lock(self, conn: Connection, key: int) -> bool:
        """A transaction-scoped advisory lock on Postgres; SQLite serialises writers itself."""
        if conn.dialect.name != "postgresql":
            return True
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    # --- discovery ----------------------------------------------------------------------

    def upsert_findings(
        self,
        job: str,
        findings: Sequence[Finding],
        *,
        source: str,
        repos: Iterable[str],
        now: datetime | None = None,
    ) -> ScanCounts:
        """Record a discovery pass: insert new findings, refresh known ones, mark the missing gone.

        Items are matched by fingerprint, so a rescan never duplicates. Only items that came
        from `source` in one of `repos` can become gone.
        """
        now = now or utcnow()
        counts = ScanCounts()
        repos = set(repos)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Wait, not try: a concurrent scan of the same job would insert the same rows.
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCAN_LOCK_KEY})
            rows = conn.execute(
                select(work_items).where(work_items.c.job == job)
            ).mappings()
            known = {
                r["fingerprint"]: r
                for r in rows
                if r["data"].get("source") == source and r["data"].get("repo") in repos
            }
            seen: set[str] = set()
            for f in findings:
                seen.add(f.fingerprint)
                row = known.get(f.fingerprint)
                if row is None:
                    if not f.done:
                        self._insert_finding(conn, job, f, now)
                        counts.new += 1
                    continue
                self._refresh_finding(conn, row, f, now, counts)
            for fp, row in known.items():
                if fp not in seen and row["status"] != Status.GONE:
                    self._set_status(conn, row, Status.GONE, "no longer found by discovery", now)
                    counts.gone += 1
        return counts

    def _insert_finding(self, conn: Connection, job: str, f: Finding, now: datetime) -> None:
        item_id = conn.execute(
            insert(work_items)
            .values(
                job=job,
                item_key=f.item_key,
                fingerprint=f.fingerprint,
                status=Status.PENDING,
                priority=f.priority,
                source_file=f.source_file,
                line=f.line,
                recurrence=f.recurrence.value if f.recurrence else None,
                data=dict(f.data),
                created_at=now,
                updated_at=now,
            )
            .returning(work_items.c.id)
        ).scalar_one()
        self._event(conn, item_id, "discovered", to_status=Status.PENDING, now=now,
                    message=f"{f.source_file}:{f.line}")

    def _refresh_finding(
        self, conn: Connection, row: RowMapping, f: Finding, now: datetime, counts: ScanCounts
    ) -> None:
        recurrence = f.recurrence.value if f.recurrence else None
        # Stage results live in data beside discovery's fields; keep them.
        data = {**row["data"], **f.data}
        changes = {
            k: v
            for k, v in {
                "priority": f.priority,
                "source_file": f.source_file,
                "line": f.line,
                "recurrence": recurrence,
                "data": data,
            }.items()
            if row[k] != v
        }
        status = Status(row["status"])
        content_changed = any(row["data"].get(k) != v for k, v in f.data.items())
        new_status = None
        if f.done and status not in (Status.DONE, Status.GONE) and not row["recurrence"]:
            new_status, why = Status.DONE, "marked done in its source"
        elif status is Status.GONE and not f.done:
            new_status, why = Status.PENDING, "found again by discovery"
        elif status is Status.REJECTED and content_changed:
            new_status, why = Status.PENDING, "content changed since it was rejected"
        if not changes and new_status is None:
            counts.unchanged += 1
            return
        if changes:
            if "data" in changes:
                # Merged in SQL: a stage may have written its keys since `row` was read.
                changes["data"] = _json_patch(conn, f.data)
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
        if new_status is not None:
            self._set_status(conn, row, new_status, why, now)
            if new_status is Status.DONE:
                counts.done += 1
                return
        counts.updated += 1

    def _set_status(
        self, conn: Connection, row: RowMapping, status: Status, why: str, now: datetime
    ) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now, "lease_until": None}
        if status is Status.PENDING:
            values.update(stage=None, failure_class=None, waiting_reason=None)
        conn.execute(update(work_items).where(work_items.c.id == row["id"]).values(**values))
        self._event(conn, row["id"], "transition", from_status=row["status"], to_status=status,
                    message=why, now=now)

    def import_record(self, job: str, values: dict[str, Any], now: datetime | None = None) -> str:
        """Insert or update one imported item by (job, item_key); returns new/updated/unchanged."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(work_items).where(
                    work_items.c.job == job, work_items.c.item_key == values["item_key"]
                )
            ).mappings().first()
            if row is None:
                item_id = conn.execute(
                    insert(work_items)
                    .values(job=job, created_at=now, updated_at=now, **values)
                    .returning(work_items.c.id)
                ).scalar_one()
                self._event(conn, item_id, "imported", to_status=values["status"], now=now)
                return "new"
            # Once imported, the database owns the status: a re-import refreshes the rest.
            changes = {k: v for k, v in values.items() if k != "status" and row[k] != v}
            if not changes:
                return "unchanged"
            conn.execute(
                update(work_items)
                .where(work_items.c.id == row["id"])
                .values(**changes, updated_at=now)
            )
            self._event(conn, row["id"], "imported", from_status=row["status"],
                        to_status=row["status"], now=now,
                        message="updated by import: " + ", ".join(sorted(changes)))
            return "updated"

    # --- dispatch -----------------------------------------------------------------------

    def claim_eligible(
        self,
        job: str,
        *,
        accept: Callable[[WorkItem], bool],
        limit: int,
        lease_seconds: float,
        now: datetime | None = None,
    ) -> list[Dispatch] | None:
        """Move up to `limit` eligible items of `job` to queued; None if another dispatcher runs.

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
                item = _item(row)
                if not accept(item):
                    continue
                out.append(self._queue(conn, item, Stage.CLASSIFY, lease_seconds, now,
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
        return Dispatch(Handoff(item=item.id, attempt=attempt, tier=tier), stage)

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
        with self.engine.begin() as conn:
            row = conn.execute(
                update(work_items)
                .where(
                    work_items.c.id == handoff["item"],
                    work_items.c.status == Status.QUEUED,
                    work_items.c.stage == stage,
                    work_items.c.attempt == handoff["attempt"],
                )
                .values(
                    status=running,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    lease_owner=worker,
                    updated_at=now,
                )
                .returning(*work_items.c)
            ).mappings().first()
            if row is None:
                return None
            item = _item(row)
            run_id = conn.execute(
                insert(stage_runs)
                .values(item_id=item.id, stage=stage, attempt=item.attempt,
                        tier=item.tier, task_id=task_id, worker=worker, started_at=now)
                .returning(stage_runs.c.id)
            ).scalar_one()
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
        with self.engine.begin() as conn:
            if outcome.data:
                values["data"] = _json_patch(conn, outcome.data)
            if outcome.cost_usd:
                values["cost_usd"] = work_items.c.cost_usd + outcome.cost_usd
            row = conn.execute(
                update(work_items)
                .where(
                    work_items.c.id == item.id,
                    work_items.c.status == running,
                    work_items.c.attempt == item.attempt,
                )
                .values(**values)
                .returning(*work_items.c)
            ).mappings().first()
            conn.execute(
                update(stage_runs)
                .where(stage_runs.c.id == claim.run_id)
                .values(
                    finished_at=now,
                    outcome=outcome.label if row is not None else "dropped",
                    cost_usd=outcome.cost_usd,
                    error_class=outcome.failure_class,
                    error=outcome.error,
                    detail={"message": outcome.message},
                )
            )
            if row is None:
                return Finish(applied=False)
            self._event(conn, item.id, "transition", from_status=running,
                        to_status=outcome.status, stage=stage, attempt=item.attempt,
                        message=outcome.message, now=now,
                        detail={"outcome": outcome.label, "failure_class": outcome.failure_class})
            if rework:
                return Finish(True, self._queue(
                    conn, _item(row), Stage.EXECUTE, lease_seconds, now,
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
        cond = work_items.c.status.in_([s.value for s in IN_FLIGHT])
        if not everything:
            cond = and_(cond, work_items.c.lease_until < now)
        with self.engine.begin() as conn:
            if not self._try_lock(conn, DISPATCH_LOCK_KEY):
                return None
            rows = conn.execute(
                select(work_items).where(cond).with_for_update(skip_locked=True)
            ).mappings().all()
            for row in rows:
                item = _item(row)
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

    # --- reads --------------------------------------------------------------------------

    def get_item(self, ref: int | str) -> WorkItem | None:
        """One item by id, or by item_key (the most recent when jobs share a key)."""
        with self._reading() as conn:
            q = select(work_items)
            if isinstance(ref, int) or str(ref).isdigit():
                q = q.where(work_items.c.id == int(ref))
            else:
                q = q.where(work_items.c.item_key == ref).order_by(work_items.c.id.desc())
            row = conn.execute(q).mappings().first()
        return _item(row) if row else None

    def list_items(
        self,
        *,
        jobs: Iterable[str] | None = None,
        status: str | None = None,
        tier: str | None = None,
    ) -> list[WorkItem]:
        """Items filtered by job(s), status and tier, most urgent first."""
        q = select(work_items)
        if jobs is not None:
            q = q.where(work_items.c.job.in_(list(jobs)))
        if status:
            q = q.where(work_items.c.status == status)
        if tier:
            q = q.where(work_items.c.tier == tier)
        q = q.order_by(work_items.c.priority.asc().nulls_last(), work_items.c.id)
        with self._reading() as conn:
            return [_item(r) for r in conn.execute(q).mappings()]

    def item_events(self, item_id: int) -> list[dict[str, Any]]:
        """Every event of an item, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(item_events).where(item_events.c.item_id == item_id)
                .order_by(item_events.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def item_stage_runs(self, item_id: int) -> list[dict[str, Any]]:
        """Every stage run of an item, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                select(stage_runs).where(stage_runs.c.item_id == item_id)
                .order_by(stage_runs.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def count_by_status(self) -> dict[str, int]:
        """How many items stand in each status."""
        with self._reading() as conn:
            rows = conn.execute(
                select(work_items.c.status, func.count()).group_by(work_items.c.status)
            )
            return dict(rows.all())  # a list of pairs: dict(result) would see .keys()

    def count_in_flight(self) -> int:
        """Items queued or held by a stage."""
        with self._reading() as conn:
            return conn.execute(
                select(func.count()).where(
                    work_items.c.status.in_([s.value for s in IN_FLIGHT])
                )
            ).scalar_one()
