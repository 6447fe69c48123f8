"""Items as JSON-ready dicts: the shape `items --json`, `show --json` and the API share."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helmq.domain.item import WorkItem
from helmq.domain.settled import next_due, outcome
from helmq.errors import HelmqError


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def item_json(item: WorkItem) -> dict[str, Any]:
    """The CONTRACT.md fields of one item, plus stage and data."""
    review = item.data.get("review") or {}
    return {
        "id": item.id,
        "job": item.job,
        "item_key": item.item_key,
        "title": item.title,
        "status": item.status.value,
        "stage": item.stage.value if item.stage else None,
        "priority": item.priority,
        "tier": item.tier.value if item.tier else item.data.get("tier"),
        "source": item.data.get("source"),
        "source_file": item.source_file,
        "repo": item.repo,
        "outcome": outcome(item, datetime.now(UTC)),
        "next_due": _iso(next_due(item)),
        "line": item.line,
        "fingerprint": item.fingerprint,
        "recurrence": item.recurrence,
        "last_completed": _iso(item.last_completed),
        "review": review.get("verdict"),
        "failure_class": item.failure_class,
        "waiting_reason": item.waiting_reason,
        "cost_usd": item.cost_usd,
        "session_id": item.session_id,
        "branch": item.branch,
        "report_path": item.report_path,
        "attempt": item.attempt,
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "data": item.data,
    }


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    """An event or stage-run row with ISO timestamps."""
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def item_diff(item: WorkItem) -> str:
    """The diff of the item's branch against its base commit, as `helmq show` prints it."""
    from helmq.repos.worktree import Worktree, branch_diff

    ex = item.data.get("execute") or {}
    if not (item.branch and item.repo and ex.get("base_commit")):
        return ""
    wt = Worktree(Path(ex.get("worktree") or item.repo), item.branch, ex["base_commit"],
                  Path(item.repo))
    try:
        return branch_diff(wt)
    except HelmqError as exc:
        return f"(diff unavailable: {exc})"
