"""The vocabulary of work items: statuses, stages, tiers, and what discovery finds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a work item stands; every change is recorded as an event."""

    PENDING = "pending"
    """Found by discovery, waiting until it is eligible."""
    QUEUED = "queued"
    """A message for the item's next `stage` is on the broker."""
    CLASSIFYING = "classifying"
    """The classify stage holds the item's lease."""
    EXECUTING = "executing"
    """The execute stage holds the item's lease."""
    REVIEWING = "reviewing"
    """The review stage holds the item's lease."""
    DONE = "done"
    """Review accepted the work (or the source marked it done)."""
    NEEDS_WORK = "needs_work"
    """Review sent it back to execute with feedback (bounded rounds)."""
    REJECTED = "rejected"
    """Suppressed until its content changes."""
    FAILED = "failed"
    """Gave up, with a failure class."""
    WAITING = "waiting"
    """Blocked on something outside the item: credentials, budget, a tier, the user."""
    GONE = "gone"
    """Discovery no longer finds it."""


RUNNING = frozenset({Status.CLASSIFYING, Status.EXECUTING, Status.REVIEWING})
IN_FLIGHT = RUNNING | {Status.QUEUED}
SETTLED = frozenset({Status.DONE, Status.REJECTED, Status.FAILED, Status.WAITING, Status.GONE})


class Stage(StrEnum):
    """The three steps of the per-item chain."""

    CLASSIFY = "classify"
    EXECUTE = "execute"
    REVIEW = "review"


STAGE_RUNNING_STATUS = {
    Stage.CLASSIFY: Status.CLASSIFYING,
    Stage.EXECUTE: Status.EXECUTING,
    Stage.REVIEW: Status.REVIEWING,
}


class Tier(StrEnum):
    """How an item is executed, cheapest first."""

    SCRIPT = "script"
    LLM_CALL = "llm_call"
    VARIO = "vario"
    CLAUDE_SESSION = "claude_session"


TIER_QUEUE = {
    Tier.SCRIPT: "script",
    Tier.LLM_CALL: "llm",
    Tier.VARIO: "vario",
    Tier.CLAUDE_SESSION: "claude",
}
QUEUES = ("control", "script", "llm", "vario", "claude")


class Source(StrEnum):
    """Where discovery found an item (`data["source"]`); part of its fingerprint."""

    TODO_MD = "todo_md"
    """An entry of a TODO.md file (autodo_scan)."""
    CODE_COMMENT = "code_comment"
    """A TODO/FIXME comment in code (autodo_scan)."""
    DOC_HEALTH = "doc_health"
    """A problem a documentation check found (doc_health)."""
    CONVENTIONS = "conventions"
    """A breach of a convention rule (conventions)."""
    FEED = "feed"
    """An entry of an RSS or Atom feed (feed)."""


class Recurrence(StrEnum):
    """How often a recurring item comes back after it is done."""

    DAILY = "daily"
    WEEKLY = "weekly"

    @property
    def seconds(self) -> int:
        """The interval before the item is eligible again."""
        return 86_400 if self is Recurrence.DAILY else 7 * 86_400


@dataclass(frozen=True)
class Finding:
    """One piece of work that a discovery strategy found (or found done) in a source."""

    fingerprint: str
    """Stable identity: survives moves of the line and edits of the description."""
    item_key: str
    """Readable unique key, safe for a git branch name (`helmq/<item_key>`)."""
    title: str
    source_file: str
    """Path relative to the repo root (`data["repo"]`)."""
    line: int
    priority: int | None = None
    recurrence: Recurrence | None = None
    done: bool = False
    """True when the source itself marks the item done (checked box, done section)."""
    data: dict[str, Any] = field(default_factory=dict)
    """description, scope, tier, risk, effort, max_minutes, auto_start, check, source, repo…"""
