"""Every error helmq raises on purpose: one root, one subtree per subsystem.

Messages say what was wrong, where (file:line for config and input files), and what to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class HelmqError(Exception):
    """Root of all helmq errors."""


class ConfigError(HelmqError):
    """Settings, jobs.yaml or a CLI argument is wrong; the CLI exits 2."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file, self.line, self.key, self.reason = file, line, key, message
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}")


class InputError(HelmqError):
    """A discovered or imported file cannot be read as what it claims to be."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file, self.line, self.reason = file, line, message
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class QueueImportError(InputError):
    """A helm autodo queue.yaml cannot be imported at all."""


class FingerprintConflict(InputError):
    """An imported entry's fingerprint already belongs to another item of the job."""

    def __init__(self, *, job: str, item_key: str, fingerprint: str, owner: str) -> None:
        self.job, self.item_key, self.fingerprint, self.owner = job, item_key, fingerprint, owner
        super().__init__(f"item key {item_key!r}: fingerprint {fingerprint!r} already belongs "
                         f"to item {owner!r} of job {job!r}; not imported")


class StoreError(HelmqError):
    """The database is unreachable or its schema is not what this helmq expects."""


class BrokerError(HelmqError):
    """The Celery broker cannot be reached; queued items wait for the reconciler."""


# --- execution tiers -----------------------------------------------------------------------


class TierError(HelmqError):
    """An execution tier could not run an item."""


class WorktreeError(TierError):
    """A git worktree or branch for an item could not be prepared or inspected."""


class CheckError(TierError):
    """A script check's detector or fixer failed to run."""


class UnknownCheckError(CheckError):
    """No script check has the requested name."""


class EditRefused(TierError):
    """An edit that may not or cannot be applied; `failure_class` says which."""

    def __init__(self, message: str, *, failure_class: str) -> None:
        super().__init__(message)
        self.failure_class = failure_class


class SlotBusy(TierError):
    """Another session held the host's slot for longer than we were willing to wait."""


# --- LLM calls and their budget ------------------------------------------------------------


class LLMError(HelmqError):
    """An LLM call failed; `failure_class` says how, `retryable` whether to try again later."""

    failure_class = "api_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None,
                 request_id: str | None = None, retry_after: float | None = None,
                 attempts: int = 1, result: Any = None) -> None:
        super().__init__(message)
        self.status, self.request_id, self.retry_after = status, request_id, retry_after
        self.attempts = attempts
        self.result = result
        """The call's LLMResult when the reply was billed (BadOutput), else None."""

    def __reduce__(self):
        kw = {"status": self.status, "request_id": self.request_id,
              "retry_after": self.retry_after, "attempts": self.attempts, "result": self.result}
        return (_rebuild_llm_error, (type(self), str(self), kw))


def _rebuild_llm_error(cls: type[LLMError], message: str, kw: dict[str, Any]) -> LLMError:
    return cls(message, **kw)


class NoCredentials(LLMError):
    """No API key is configured: LLM tiers wait (reason `no_credentials`)."""

    failure_class = "no_credentials"


class RateLimited(LLMError):
    """429 after every retry."""

    failure_class = "rate_limited"
    retryable = True


class ApiOverloaded(LLMError):
    """529 overloaded after every retry."""

    failure_class = "api_overloaded"
    retryable = True


class ApiError(LLMError):
    """A 5xx, a connection failure or an error event mid-stream, after every retry."""

    failure_class = "api_error"
    retryable = True


class LLMTimeout(LLMError):
    """An attempt ran past `timeout`; it may have been billed, so it is not retried here."""

    failure_class = "timeout"
    retryable = True


class BadRequest(LLMError):
    """The API refused the request as malformed (400, 404, 413, 422): a bug, not a blip."""

    failure_class = "bad_request"


class AuthFailed(LLMError):
    """The key was refused (401, 403) or the account cannot pay (402)."""

    failure_class = "auth"


class BadOutput(LLMError):
    """The reply is not JSON matching the schema; `result` holds it with its (billed) cost."""

    failure_class = "bad_output"


class BudgetExceeded(HelmqError):
    """A call was refused before it was made: it would pass a budget, or its cost is unknown."""

    reason = "budget"
    """The item's waiting reason."""

    def __init__(self, message: str, *, scope: str, retry_at: datetime | None) -> None:
        super().__init__(message)
        self.scope = scope
        """`daily`, `per_item` or `unknown_cost`."""
        self.retry_at = retry_at
        """When dispatch may try again (next UTC midnight for `daily`); None: not by itself."""

    def __reduce__(self):
        return (_rebuild_budget_exceeded, (str(self), self.scope, self.retry_at))


def _rebuild_budget_exceeded(message: str, scope: str,
                             retry_at: datetime | None) -> BudgetExceeded:
    return BudgetExceeded(message, scope=scope, retry_at=retry_at)
