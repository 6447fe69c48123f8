"""What a person reads of an item that settled: its outcome and, if it recurs, when it is
next due. A recurring item is stored as pending again as soon as it settles; until its
interval has passed it still reads as settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helmq.domain.item import WorkItem
from helmq.domain.model import Recurrence, Status


def next_due(item: WorkItem) -> datetime | None:
    """When a recurring item that was completed becomes eligible again; None otherwise."""
    if item.recurrence is None or item.last_completed is None:
        return None
    completed = item.last_completed
    if completed.tzinfo is None:
        completed = completed.replace(tzinfo=UTC)
    return completed + timedelta(seconds=Recurrence(item.recurrence).seconds)


def outcome(item: WorkItem, now: datetime) -> str | None:
    """`fixed` (a branch with the change) or `reported` (done, for a person to act on, no
    branch) for an item helmq settled (reviewed, or executed by a job without review) and that
    is not due again yet; None while it is unsettled, or done by its own source with nothing
    helmq did."""
    due = next_due(item)
    settled = item.status is Status.DONE or (
        item.status is Status.PENDING and due is not None and now < due)
    acted = (item.data.get("review") or {}).get("verdict") or item.data.get("execute")
    if not settled or not acted:
        return None
    return "fixed" if item.branch else "reported"
