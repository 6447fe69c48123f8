"""The repository: every query helmq runs against work_items has a name here.

Queries are grouped by who asks: discovery (`discovery_queries`), the pipeline
(`pipeline_queries`) and readers (below); `Repository` offers them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from helmq.domain.item import WorkItem
from helmq.domain.model import IN_FLIGHT
from helmq.store.discovery_queries import DiscoveryQueries
from helmq.store.pipeline_queries import PipelineQueries
from helmq.store.rows import (
    DISPATCH_LOCK_KEY,
    SCAN_LOCK_KEY,
    Claim,
    Dispatch,
    Finish,
    ScanCounts,
    to_item,
)
from helmq.store.schema import item_events, scans, stage_runs, work_items
from helmq.store.session_queries import SessionQueries
from helmq.store.ui_queries import UIQueries

__all__ = [
    "DISPATCH_LOCK_KEY",
    "SCAN_LOCK_KEY",
    "Claim",
    "Dispatch",
    "Finish",
    "Repository",
    "ScanCounts",
]


class Repository(DiscoveryQueries, PipelineQueries, SessionQueries, UIQueries):
    """Named queries over one engine; each public method is one transaction."""

    def get_item(self, ref: int | str) -> WorkItem | None:
        """One item by id, or by item_key (the most recent when jobs share a key)."""
        with self._reading() as conn:
            q = select(work_items)
            if isinstance(ref, int) or str(ref).isdigit():
                q = q.where(work_items.c.id == int(ref))
            else:
                q = q.where(work_items.c.item_key == ref).order_by(work_items.c.id.desc())
            row = conn.execute(q).mappings().first()
        return to_item(row) if row else None

    def recent_scans(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The latest discovery passes, newest first (of one job, or of all)."""
        query = select(scans).order_by(scans.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(scans.c.job == job)
        with self._reading() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

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
            return [to_item(r) for r in conn.execute(q).mappings()]

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

    def count_by_status(self, ids: Iterable[int] | None = None) -> dict[str, int]:
        """How many items (of `ids`, when given) stand in each status."""
        q = select(work_items.c.status, func.count()).group_by(work_items.c.status)
        if ids is not None:
            q = q.where(work_items.c.id.in_(list(ids)))
        with self._reading() as conn:
            return dict(conn.execute(q).all())  # pairs: dict(result) would see .keys()

    def count_in_flight(self) -> int:
        """Items queued or held by a stage."""
        with self._reading() as conn:
            return conn.execute(
                select(func.count()).where(
                    work_items.c.status.in_([s.value for s in IN_FLIGHT])
                )
            ).scalar_one()
