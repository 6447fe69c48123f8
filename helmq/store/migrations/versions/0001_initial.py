"""work_items, item_events, stage_runs

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from helmq.store.schema import Id, JsonData, Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("item_key", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stage", sa.String(20)),
        sa.Column("tier", sa.String(20)),
        sa.Column("priority", sa.Integer),
        sa.Column("source_file", sa.Text),
        sa.Column("line", sa.Integer),
        sa.Column("recurrence", sa.String(10)),
        sa.Column("last_completed", UTCDateTime()),
        sa.Column("data", JsonData, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
        sa.Column("redispatches", sa.Integer, nullable=False, server_default="0"),
        sa.Column("review_rounds", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("failure_class", sa.String(40)),
        sa.Column("waiting_reason", sa.String(200)),
        sa.Column("cost_usd", Money, nullable=False, server_default="0"),
        sa.Column("session_id", sa.String(100)),
        sa.Column("branch", sa.String(250)),
        sa.Column("report_path", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("job", "item_key", name="uq_work_items_job_item_key"),
        sa.UniqueConstraint("job", "fingerprint", name="uq_work_items_job_fingerprint"),
    )
    op.create_index(
        "ix_work_items_job_status_priority", "work_items", ["job", "status", "priority"]
    )
    op.create_index("ix_work_items_status_lease_until", "work_items", ["status", "lease_until"])
    op.create_table(
        "item_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "item_id",
            Id,
            sa.ForeignKey("work_items.id", ondelete="CASCADE", name="fk_item_events_item_id"),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20)),
        sa.Column("stage", sa.String(20)),
        sa.Column("attempt", sa.Integer),
        sa.Column("message", sa.Text),
        sa.Column("detail", JsonData),
    )
    op.create_index("ix_item_events_item_id_id", "item_events", ["item_id", "id"])
    op.create_table(
        "stage_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "item_id",
            Id,
            sa.ForeignKey("work_items.id", ondelete="CASCADE", name="fk_stage_runs_item_id"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("tier", sa.String(20)),
        sa.Column("task_id", sa.String(100)),
        sa.Column("worker", sa.String(200)),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("outcome", sa.String(30)),
        sa.Column("cost_usd", Money),
        sa.Column("error_class", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("detail", JsonData),
    )
    op.create_index("ix_stage_runs_item_id_id", "stage_runs", ["item_id", "id"])


def downgrade() -> None:
    op.drop_table("stage_runs")
    op.drop_table("item_events")
    op.drop_table("work_items")
