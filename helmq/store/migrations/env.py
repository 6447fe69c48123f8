"""Alembic environment: helmq passes its own connection; nothing is read from alembic.ini."""

from __future__ import annotations

from alembic import context

# Tables defined beside their queries register on the one metadata when imported.
import helmq.store.job_state  # noqa: F401
import helmq.store.ledger  # noqa: F401
import helmq.store.session_queries  # noqa: F401
from helmq.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
