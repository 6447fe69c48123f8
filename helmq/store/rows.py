"""What every query module shares: row mapping, events, locks and the decision values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, literal, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import RowMapping

from helmq.domain.clock import utcnow
from helmq.domain.item import Handoff, WorkItem
from helmq.domain.model import Stage, Status, Tier
from helmq.store.engine import READ_ONLY_OPTION
from helmq.store.schema import item_events, work_items

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
    job: str = ""
    """The item's job: its `stages:` decide the rest of the chain."""


def to_item(row: RowMapping | Mapping[str, Any]) -> WorkItem:
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


def json_patch(conn: Connection, patch: dict[str, Any]):
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



# Built once: SQLAlchemy reuses its cache key and compiled form on every call.
_INSERT_EVENT = insert(item_events)


class RepositoryBase:
    """One engine; each public method of a subclass is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _reading(self) -> Connection:
        return self.engine.connect().execution_options(**{READ_ONLY_OPTION: True})

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
        conn.execute(_INSERT_EVENT, {
            "item_id": item_id, "at": now or utcnow(), "kind": kind,
            "from_status": from_status, "to_status": to_status, "stage": stage,
            "attempt": attempt, "message": message, "detail": detail,
        })

    def _try_lock(self, conn: Connection, key: int) -> bool:
        """A transaction-scoped advisory lock on Postgres; SQLite serialises writers itself."""
        if conn.dialect.name != "postgresql":
            return True
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())

    def _set_status(
        self, conn: Connection, row: RowMapping, status: Status, why: str, now: datetime
    ) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now, "lease_until": None}
        if status is Status.PENDING:
            values.update(stage=None, failure_class=None, waiting_reason=None)
        conn.execute(update(work_items).where(work_items.c.id == row["id"]).values(**values))
        self._event(conn, row["id"], "transition", from_status=row["status"], to_status=status,
                    message=why, now=now)
