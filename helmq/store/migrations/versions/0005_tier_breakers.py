"""tier_breakers: a tier whose executor cannot run makes its items wait, not fail

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from helmq.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier_breakers",
        sa.Column("tier", sa.String(20), primary_key=True),
        sa.Column("open_until", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="1"),
        sa.Column("reason", sa.Text),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tier_breakers")
