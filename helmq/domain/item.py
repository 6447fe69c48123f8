"""A work item as the stages see it: plain values, no database handle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from helmq.domain.model import Stage, Status, Tier


class Handoff(TypedDict):
    """What a task message carries: an id and the dispatch token, never a row."""

    item: int
    attempt: int
    tier: str | None


@dataclass(frozen=True)
class WorkItem:
    """One row of work_items, read at the moment a stage claimed it."""

    id: int
    job: str
    item_key: str
    fingerprint: str
    status: Status
    stage: Stage | None
    tier: Tier | None
    priority: int | None
    source_file: str | None
    line: int | None
    recurrence: str | None
    last_completed: datetime | None
    data: dict[str, Any]
    attempt: int
    redispatches: int
    review_rounds: int
    lease_until: datetime | None
    failure_class: str | None
    waiting_reason: str | None
    cost_usd: float
    session_id: str | None
    branch: str | None
    report_path: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def title(self) -> str:
        return str(self.data.get("title") or self.item_key)

    @property
    def filter_data(self) -> dict[str, Any]:
        """The data that eligibility filters see (see `filter_data`)."""
        return filter_data(self.data)

    @property
    def repo(self) -> str | None:
        """The repository the item was found in, when it came from one."""
        return self.data.get("repo")

    def handoff(self) -> Handoff:
        """The message payload for this item's current dispatch."""
        tier = self.tier.value if self.tier else None
        return Handoff(item=self.id, attempt=self.attempt, tier=tier)


def filter_data(data: dict[str, Any]) -> dict[str, Any]:
    """An item's data as eligibility filters see it: its own tags first, then what an LLM
    classification found (risk, effort, type) for the keys the tags leave empty."""
    found = (data.get("classify") or {}).get("llm") or {}
    merged = dict(data)
    for key in ("risk", "effort", "type"):
        if merged.get(key) is None and found.get(key) is not None:
            merged[key] = found[key]
    return merged
