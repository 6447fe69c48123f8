"""scans: one row per discovery pass

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from helmq.store.schema import Id, JsonData, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("strategy", sa.String(50), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.Column("repos", JsonData, nullable=False),
        sa.Column("counts", JsonData, nullable=False),
        sa.Column("warnings", JsonData, nullable=False),
    )
    op.create_index("ix_scans_job_id", "scans", ["job", "id"])


def downgrade() -> None:
    op.drop_table("scans")
