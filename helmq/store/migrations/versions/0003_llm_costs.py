"""llm_costs: the daily LLM cost ledger (reserved, then committed)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from helmq.store.schema import Id, Money, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_costs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column(
            "item_id",
            Id,
            sa.ForeignKey("work_items.id", ondelete="SET NULL", name="fk_llm_costs_item_id"),
        ),
        sa.Column(
            "run_id",
            Id,
            sa.ForeignKey("stage_runs.id", ondelete="SET NULL", name="fk_llm_costs_run_id"),
        ),
        sa.Column("stage", sa.String(20)),
        sa.Column("tier", sa.String(20)),
        sa.Column("model", sa.String(100)),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("estimate_usd", Money, nullable=False),
        sa.Column("cost_usd", Money),
        sa.Column("priced", sa.Boolean),
        sa.Column("input_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cache_write_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cache_read_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_llm_costs_day_state", "llm_costs", ["day", "state"])
    op.create_index("ix_llm_costs_item_id", "llm_costs", ["item_id"])


def downgrade() -> None:
    op.drop_table("llm_costs")
