"""Job state a person sets at run time (pause/resume), kept beside jobs.yaml's `paused`."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, String, Table, Text

from helmq.domain.clock import utcnow
from helmq.store.schema import UTCDateTime, metadata

job_state = Table(
    "job_state",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("paused", Boolean, nullable=False, default=False),
    Column("reason", Text),
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
)
"""One row per job a person paused or resumed; a job without a row runs as jobs.yaml says."""

SEARCH_TEXT_SQL = "(coalesce(data->>'title', '') || ' ' || item_key)"
"""What the UI's search box matches on Postgres; the trigram index of 0004 covers exactly
this expression, so the query must spell it the same way."""
