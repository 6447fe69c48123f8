"""job_state (pause/resume from the UI) and the indexes the UI's list pages sort by

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from helmq.store.job_state import SEARCH_TEXT_SQL
from helmq.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_state",
        sa.Column("job", sa.String(100), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    # The list pages sort by updated_at (newest first) inside a tab, a status or a job.
    op.create_index("ix_work_items_updated_at_id", "work_items", ["updated_at", "id"])
    op.create_index("ix_work_items_status_updated_at_id", "work_items",
                    ["status", "updated_at", "id"])
    op.create_index("ix_work_items_job_updated_at_id", "work_items", ["job", "updated_at", "id"])
    op.create_index("ix_stage_runs_started_at", "stage_runs", ["started_at"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _has_trigrams(bind):
        # Substring search over 100k titles: a trigram index instead of a scan.
        op.execute(f"CREATE INDEX ix_work_items_search_trgm ON work_items "
                   f"USING gin ({SEARCH_TEXT_SQL} gin_trgm_ops)")


def _has_trigrams(bind) -> bool:
    """pg_trgm installed, or installable by this user (it is a trusted extension)."""
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_work_items_search_trgm")
    op.drop_index("ix_stage_runs_started_at", "stage_runs")
    op.drop_index("ix_work_items_job_updated_at_id", "work_items")
    op.drop_index("ix_work_items_status_updated_at_id", "work_items")
    op.drop_index("ix_work_items_updated_at_id", "work_items")
    op.drop_table("job_state")
