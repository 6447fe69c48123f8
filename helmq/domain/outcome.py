"""What a stage decided, and the documented reasons an item fails or waits.

A stage returns one `Outcome`, built by the constructor that names its decision:
`Outcome.next(Stage.REVIEW, …)`, `Outcome.waiting(WaitReason.BUDGET, …)`,
`Outcome.failed(FailureClass.NO_REPO, …)`, `Outcome.done(…)`, `Outcome.needs_work(…)`,
`Outcome.rejected(…)`. The store applies it with a compare-and-set."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict, Unpack

from helmq.domain.model import Stage, Status, Tier


class FailureClass(StrEnum):
    """Why an item failed; stored in `work_items.failure_class` and counted by the doctor."""

    NO_REPO = "no_repo"
    """The item names no repository to work in."""
    BAD_ITEM = "bad_item"
    """The item is malformed at its source: an unknown tier, a limit that is not one."""
    UNKNOWN_CHECK = "unknown_check"
    """The item names a script check that does not exist, or none matches its title."""
    BAD_HANDLER = "bad_handler"
    """The job's `handler` in jobs.yaml cannot be imported."""
    UNFIXABLE = "unfixable"
    """The script check still fires after its fixer ran, or the fixer cannot mend it."""
    OUT_OF_SCOPE = "out_of_scope"
    """An edit or the branch touches files outside what the item may change."""
    BAD_OUTPUT = "bad_output"
    """The model's answer is not what was asked for, or its edits cannot be applied."""
    TIMEOUT = "timeout"
    """A stage, an LLM call or a Claude session ran past its time limit."""
    CRASH = "crash"
    """A stage raised something unexpected, or the claude CLI could not run or died."""
    LOST = "lost"
    """The item's messages or workers kept getting lost: the re-dispatch cap was reached."""
    WORKTREE = "worktree"
    """The item's git worktree or branch could not be prepared or inspected."""
    CHECK_ERROR = "check_error"
    """A script check's detector or fixer failed to run."""
    ERROR = "error"
    """Another helmq error ended the stage; its message says what."""
    BUDGET = "budget"
    """A budget was spent: an LLM call was refused, or a session stopped at its budget."""
    MAX_TURNS = "max_turns"
    """A Claude session used all of its turns."""
    API_ERROR = "api_error"
    """The API kept failing (5xx, connection, an error mid-stream) or reported an error."""
    RATE_LIMITED = "rate_limited"
    """The API kept answering 429."""
    API_OVERLOADED = "api_overloaded"
    """The API kept answering 529 overloaded."""
    BAD_REQUEST = "bad_request"
    """The API refused the request as malformed: a bug in helmq, not a blip."""
    AUTH = "auth"
    """The API refused the key, or the account cannot pay."""
    NO_CREDENTIALS = "no_credentials"
    """No API key is configured (the LLM client's class for it; the item itself waits)."""


class WaitReason(StrEnum):
    """Why an item waits; stored in `work_items.waiting_reason`, advised on by the doctor."""

    NO_CREDENTIALS = "no_credentials"
    """No ANTHROPIC_API_KEY: LLM classification and the LLM tiers wait until it is set."""
    BUDGET = "budget"
    """The daily or the item's budget is spent, or a call's cost is unknown."""
    TIER_UNAVAILABLE = "tier_unavailable"
    """No executor for the item's tier is set up in this process or this helmq version."""
    TIER_BROKEN = "tier_broken"
    """The tier's circuit breaker is open: it fails for every item until its cooldown ends."""
    TIER_BUSY = "tier_busy"
    """The tier's one slot on this host is taken by another session."""
    FILTERED = "filtered"
    """The job's data_filter does not admit the item as it was classified."""
    USER_RETURNED = "user_returned"
    """The user came back while a session ran; it resumes when they are idle again."""
    API_ERROR = "api_error"
    """The API kept failing in a way that passes by itself; the item retries later."""
    RATE_LIMITED = "rate_limited"
    """The API kept answering 429; the item retries later."""
    API_OVERLOADED = "api_overloaded"
    """The API kept answering 529 overloaded; the item retries later."""
    TIMEOUT = "timeout"
    """An LLM call ran past its timeout (and may have been billed); the item retries later."""


class Carried(TypedDict, total=False):
    """What any outcome may carry besides its decision."""

    tier: Tier | None
    data: dict[str, Any]
    cost_usd: float
    branch: str | None
    report_path: str | None
    error: str | None


@dataclass(frozen=True)
class Outcome:
    """What a stage decided. The store applies it with a compare-and-set."""

    status: Status
    label: str
    """Short outcome for the stage run: ok, accepted, needs_work, failed, waiting…"""
    message: str
    stage: Stage | None = None
    """With status QUEUED: the next stage of the chain."""
    tier: Tier | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """Merged into the item's data (top-level keys replace)."""
    failure_class: FailureClass | None = None
    waiting_reason: WaitReason | None = None
    retry_after_seconds: float | None = None
    """With status WAITING: when the item may be dispatched again."""
    cost_usd: float = 0.0
    branch: str | None = None
    report_path: str | None = None
    error: str | None = None

    @property
    def continues(self) -> bool:
        """True when the chain goes on to another stage."""
        return self.status is Status.QUEUED

    @classmethod
    def next(cls, stage: Stage, message: str, **carried: Unpack[Carried]) -> Outcome:
        """The chain goes on to `stage` (status queued, label ok)."""
        return cls(Status.QUEUED, "ok", message, stage=stage, **carried)

    @classmethod
    def waiting(cls, reason: WaitReason, message: str, *, retry_after: float | None = None,
                failure_class: FailureClass | None = None, label: str = "waiting",
                **carried: Unpack[Carried]) -> Outcome:
        """The item waits for `reason` to pass; dispatch may try again after `retry_after`
        seconds. A wait that also counts as a failed run names its `failure_class`."""
        return cls(Status.WAITING, label, message, waiting_reason=reason,
                   failure_class=failure_class, retry_after_seconds=retry_after, **carried)

    @classmethod
    def failed(cls, failure_class: FailureClass, message: str, *, label: str = "failed",
               **carried: Unpack[Carried]) -> Outcome:
        """The item gave up with `failure_class`; `error` keeps the detail for a person."""
        return cls(Status.FAILED, label, message, failure_class=failure_class, **carried)

    @classmethod
    def done(cls, message: str, *, label: str = "accepted",
             **carried: Unpack[Carried]) -> Outcome:
        """Review settled the item: accepted, or `label="reported"` for a person to act on."""
        return cls(Status.DONE, label, message, **carried)

    @classmethod
    def needs_work(cls, message: str, **carried: Unpack[Carried]) -> Outcome:
        """Review sends the item back to execute with its feedback."""
        return cls(Status.NEEDS_WORK, "needs_work", message, **carried)

    @classmethod
    def rejected(cls, message: str, **carried: Unpack[Carried]) -> Outcome:
        """Review suppresses the item until its content changes."""
        return cls(Status.REJECTED, "rejected", message, **carried)
