"""Importing a helm autodo queue.yaml: each parsed record becomes one work item."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from helmq.domain.model import RUNNING, Status
from helmq.errors import FingerprintConflict
from helmq.grammar.queue_yaml import QueueRecord
from helmq.store.repository import Repository

# An import carries no lease, broker message or review feedback: an item that was running or
# sent back for another round starts over from pending.
_RESTART = RUNNING | {Status.QUEUED, Status.NEEDS_WORK}


def record_values(record: QueueRecord) -> dict:
    """The work_items columns of one queue record."""
    return {
        "item_key": record.item_key,
        "fingerprint": record.fingerprint,
        "status": (Status.PENDING if record.status in _RESTART else record.status).value,
        "priority": record.priority,
        "source_file": record.source_file,
        "recurrence": record.recurrence.value if record.recurrence else None,
        "last_completed": record.last_completed,
        "data": dict(record.data),
    }


@dataclass
class QueueImport:
    """What importing the records changed, and one message per record that was not imported."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"new": 0, "updated": 0, "unchanged": 0})
    errors: list[str] = field(default_factory=list)


def import_queue(repo: Repository, job: str, records: Iterable[QueueRecord]) -> QueueImport:
    """Upsert every record by (job, item_key); importing twice changes nothing.

    A record that cannot be stored (its fingerprint belongs to another item of the job) is
    reported in `errors`, naming its item key; the others are imported.
    """
    result = QueueImport()
    for record in records:
        try:
            result.counts[repo.import_record(job, record_values(record))] += 1
        except FingerprintConflict as exc:
            result.errors.append(str(exc))
    return result
