"""What a finished session amounts to, from helmq's stop reason and the CLI's result event.

The CLI's `subtype` is unreliable (an API error reports `success`), so the result is read by
`is_error` and `terminal_reason`; helmq's own stop reason wins over anything the CLI printed
after being interrupted (it reports `aborted_streaming` and exits 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from helmq.tiers.claude.process import SessionRun, Stop


class SessionOutcome(StrEnum):
    """The classes of a session's end; all but `ok` are also failure classes."""

    OK = "ok"
    MAX_TURNS = "max_turns"
    BUDGET = "budget"
    TIMEOUT = "timeout"
    API_ERROR = "api_error"
    USER_RETURNED = "user_returned"
    CRASH = "crash"
    LOST = "lost"


RETRYABLE_API_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""API errors that pass by themselves: the item waits and resumes its session."""
TIER_API_STATUS = frozenset({401, 403})
"""API errors every session of the tier would hit (bad key): the tier's breaker opens."""

_TERMINAL = {
    "max_turns": SessionOutcome.MAX_TURNS,
    "budget_exhausted": SessionOutcome.BUDGET,
    "api_error": SessionOutcome.API_ERROR,
}
_SUBTYPE = {
    "error_max_turns": SessionOutcome.MAX_TURNS,
    "error_max_budget_usd": SessionOutcome.BUDGET,
}


@dataclass(frozen=True)
class Verdict:
    """A session's class and a sentence saying why."""

    outcome: SessionOutcome
    reason: str
    api_status: int | None = None

    @property
    def retryable(self) -> bool:
        """An API error that passes by itself (overloaded, rate limited, 5xx)."""
        return self.outcome is SessionOutcome.API_ERROR and self.api_status in RETRYABLE_API_STATUS

    @property
    def breaks_tier(self) -> bool:
        """A failure every item of the tier would meet: the CLI cannot run, or the key is bad."""
        return self.outcome is SessionOutcome.CRASH or (
            self.outcome is SessionOutcome.API_ERROR and self.api_status in TIER_API_STATUS)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def classify_session(run: SessionRun, *, max_seconds: float) -> Verdict:
    """The verdict on one CLI run."""
    if run.start_error:
        return Verdict(SessionOutcome.CRASH, run.start_error)
    if run.stopped is Stop.TIMEOUT:
        return Verdict(SessionOutcome.TIMEOUT,
                       f"stopped by helmq after {_minutes(max_seconds)} (max_minutes) "
                       f"with {run.stop_signal}")
    if run.stopped is Stop.USER_RETURNED:
        paused = f" after {_minutes(run.paused_seconds)} paused" if run.paused_seconds else ""
        return Verdict(SessionOutcome.USER_RETURNED,
                       f"stopped by helmq because the user returned{paused}; "
                       "the session resumes on the next run")
    if run.stopped is Stop.LOST:
        return Verdict(SessionOutcome.LOST, "stopped by helmq: the item was taken away from "
                       "this worker while the session ran")
    result = run.watcher.result
    if result is None:
        return Verdict(SessionOutcome.CRASH, _no_result(run))
    return _from_result(result, run.exit_code)


def _from_result(result: dict[str, Any], exit_code: int | None) -> Verdict:
    if result.get("is_error") is False:
        return Verdict(SessionOutcome.OK, f"completed in {result.get('num_turns', '?')} turn(s)")
    terminal = result.get("terminal_reason")
    status = result.get("api_error_status")
    status = status if isinstance(status, int) else None
    outcome = _TERMINAL.get(str(terminal)) or _SUBTYPE.get(str(result.get("subtype")))
    if outcome is None and status is not None:
        outcome = SessionOutcome.API_ERROR
    errors = result.get("errors") or []
    detail = "; ".join(str(e) for e in errors) or str(result.get("result") or "")[:500]
    if outcome is None:
        return Verdict(SessionOutcome.CRASH,
                       f"the CLI ended with an error (terminal_reason {terminal!r}, exit "
                       f"{exit_code}): {detail or 'no detail'}")
    if outcome is SessionOutcome.API_ERROR:
        return Verdict(outcome, f"the API answered {status or 'an error'}: {detail}", status)
    return Verdict(outcome, detail or str(terminal))


def _no_result(run: SessionRun) -> str:
    stderr = run.stderr_tail.strip()
    tail = f": {stderr[-800:]}" if stderr else " and printed nothing on stderr"
    if run.watcher.events == 0:
        return (f"the claude CLI exited {run.exit_code} before its first event{tail}; "
                "check HELMQ_CLAUDE_BIN and that `claude --version` runs")
    return f"the claude CLI exited {run.exit_code} without a result event{tail}"
