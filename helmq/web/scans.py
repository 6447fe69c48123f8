"""What starting a scan from the UI answers (the starter itself is handed in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScanStarted:
    """How a requested scan was started."""

    job: str
    via: str
    """`celery` (a task on the control queue) or `thread` (inside this process)."""
    task_id: str | None = None
    already_running: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "via": self.via, "task_id": self.task_id,
                "already_running": self.already_running}
