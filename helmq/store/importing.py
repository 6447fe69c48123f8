"""Importing a helm autodo queue.yaml: each parsed record becomes one work item."""

from __future__ import annotations

from collections.abc import Iterable

from helmq.queue_import import QueueRecord
from helmq.store.repository import Repository


def record_values(record: QueueRecord) -> dict:
    """The work_items columns of one queue record."""
    return {
        "item_key": record.item_key,
        "fingerprint": record.fingerprint,
        "status": record.status.value,
        "priority": record.priority,
        "source_file": record.source_file,
        "recurrence": record.recurrence.value if record.recurrence else None,
        "last_completed": record.last_completed,
        "data": dict(record.data),
    }


def import_queue(repo: Repository, job: str, records: Iterable[QueueRecord]) -> dict[str, int]:
    """Upsert every record by (job, item_key); importing twice changes nothing."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for record in records:
        counts[repo.import_record(job, record_values(record))] += 1
    return counts
