"""The tables. The work_items row is the source of truth; the broker only carries ids."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from helmq.domain.clock import utcnow


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonData = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
Money = Numeric(14, 6, asdecimal=False)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

work_items = Table(
    "work_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("item_key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(20), nullable=False, default="pending"),
    # The stage a queued item waits for, or the stage a running item is in.
    Column("stage", String(20)),
    Column("tier", String(20)),
    Column("priority", Integer),
    Column("source_file", Text),
    Column("line", Integer),
    Column("recurrence", String(10)),
    Column("last_completed", UTCDateTime()),
    Column("data", JsonData, nullable=False, default=dict),
    # attempt is the dispatch token: every published chain carries it and every stage
    # compares it, so a duplicate or stale message finds no row.
    Column("attempt", Integer, nullable=False, default=0),
    Column("redispatches", Integer, nullable=False, default=0),
    Column("review_rounds", Integer, nullable=False, default=0),
    Column("lease_until", UTCDateTime()),
    Column("lease_owner", String(200)),
    Column("failure_class", String(40)),
    Column("waiting_reason", String(200)),
    Column("cost_usd", Money, nullable=False, default=0),
    Column("session_id", String(100)),
    Column("branch", String(250)),
    Column("report_path", Text),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
    UniqueConstraint("job", "item_key"),
    UniqueConstraint("job", "fingerprint"),
    Index(None, "job", "status", "priority"),
    Index(None, "status", "lease_until"),
    # The UI's list pages: newest first, overall, by status and by job.
    Index(None, "updated_at", "id"),
    Index(None, "status", "updated_at", "id"),
    Index(None, "job", "updated_at", "id"),
)

item_events = Table(
    "item_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("item_id", Id, ForeignKey("work_items.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False, default=utcnow),
    Column("kind", String(30), nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("stage", String(20)),
    Column("attempt", Integer),
    Column("message", Text),
    Column("detail", JsonData),
    Index(None, "item_id", "id"),
)

stage_runs = Table(
    "stage_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("item_id", Id, ForeignKey("work_items.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("tier", String(20)),
    Column("task_id", String(100)),
    Column("worker", String(200)),
    Column("started_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("finished_at", UTCDateTime()),
    Column("outcome", String(30)),
    Column("cost_usd", Money),
    Column("error_class", String(40)),
    Column("error", Text),
    Column("detail", JsonData),
    Index(None, "item_id", "id"),
    Index(None, "started_at"),
)

scans = Table(
    "scans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("strategy", String(50), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("finished_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("repos", JsonData, nullable=False, default=list),
    Column("counts", JsonData, nullable=False, default=dict),
    Column("warnings", JsonData, nullable=False, default=list),
    Index(None, "job", "id"),
)
"""One row per discovery pass of a job: when, over which repos, what it changed. An unchanged
rescan writes this row and nothing else."""
