"""Asking a model from a stage: one budgeted call (or a panel of them) whose LLM-side failure
is a decision, not an exception.

No key and an exhausted budget make the item wait; an API that keeps failing makes it wait
and retry later (the stage run records the failure class); output that is not what was asked
for fails the item as `bad_output`. Anything else is a bug and propagates to the runner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.errors import BudgetExceeded, LLMError, NoCredentials

if TYPE_CHECKING:
    from helmq.llm.client import LLMResult
    from helmq.llm.service import Meter

T = TypeVar("T", bound=BaseModel)

RETRY_LATER_SECONDS = 600.0
"""When a retryable API failure gives no retry-after: try the item again in ten minutes."""


def ask(meter: Meter, role: str, system: str, prompt: str, schema: type[T], *, what: str,
        max_tokens: int, model: str | None = None) -> LLMResult[T] | Outcome:
    """One budgeted call, or the Outcome to end the stage with when it failed on the LLM side;
    `what` names the call in that Outcome's message."""
    try:
        return meter.json_call(role, system, prompt, schema, max_tokens=max_tokens, model=model)
    except Exception as exc:
        return failure_or_raise(exc, meter, what=what)


def ask_panel(meter: Meter, models: list[str], role: str, system: str, prompt: str,
              schema: type[T], *, what: str,
              max_tokens: int,
              ) -> tuple[list[tuple[str, LLMResult[T]]], list[tuple[str, Exception]]] | Outcome:
    """The same call to every model in parallel: (model, answer) and (model, error) pairs in
    the panel's order, or the Outcome of the first error when no majority answered."""

    def one(model: str) -> LLMResult[T]:
        return meter.json_call(role, system, prompt, schema, max_tokens=max_tokens, model=model)

    answers: list[tuple[str, LLMResult[T]]] = []
    errors: list[tuple[str, Exception]] = []
    with ThreadPoolExecutor(max_workers=len(models), thread_name_prefix=role) as pool:
        futures = [pool.submit(one, m) for m in models]
        for model, future in zip(models, futures, strict=True):
            try:
                answers.append((model, future.result()))
            except Exception as exc:  # noqa: BLE001 - one member failing is not the panel
                errors.append((model, exc))
    if len(answers) * 2 <= len(models):
        # Without a majority of the panel there is no vote to follow.
        return failure_or_raise(errors[0][1], meter, what=f"{what} ({len(errors)} of "
                                f"{len(models)} calls failed)")
    return answers, errors


def failure_or_raise(exc: Exception, meter: Meter | None, *, what: str) -> Outcome:
    """`llm_failure`'s Outcome for `exc`; `exc` itself, raised again, when it is not one."""
    outcome = llm_failure(exc, meter, what=what)
    if outcome is None:
        raise exc
    return outcome


def llm_failure(exc: Exception, meter: Meter | None, *, what: str) -> Outcome | None:
    """The Outcome for an LLM-side failure of a stage, or None when `exc` is not one."""
    cost = meter.cost_usd if meter is not None else 0.0
    if isinstance(exc, NoCredentials):
        return Outcome.waiting(WaitReason.NO_CREDENTIALS, f"{what} needs ANTHROPIC_API_KEY; "
                               "waiting until it is set", cost_usd=cost)
    if isinstance(exc, BudgetExceeded):
        # The next UTC day for the daily budget; an hour for the per-item one, so that a
        # raised budget.per_item_usd lets the item go on without a person's retry.
        retry = (exc.retry_at - datetime.now(UTC)).total_seconds() if exc.retry_at else 3600.0
        return Outcome.waiting(WaitReason.BUDGET, f"{what}: {exc}", retry_after=max(retry, 60.0),
                               failure_class=FailureClass.BUDGET, cost_usd=cost)
    if not isinstance(exc, LLMError):
        return None
    failure_class = FailureClass(exc.failure_class)
    if exc.retryable:
        wait = exc.retry_after if exc.retry_after else RETRY_LATER_SECONDS
        return Outcome.waiting(WaitReason(exc.failure_class),
                               f"{what}: {exc}; retrying in {wait:.0f} s", retry_after=wait,
                               failure_class=failure_class, label="failed", cost_usd=cost,
                               error=str(exc))
    return Outcome.failed(failure_class, f"{what}: {exc}", cost_usd=cost, error=str(exc))


def usage_summary(result: LLMResult[Any]) -> dict[str, Any]:
    """What a stage keeps about one call: model, tokens, cost."""
    return {"model": result.model, "tokens": result.usage.as_dict(),
            "cost_usd": float(result.cost_usd) if result.cost_usd is not None else None,
            "request_id": result.request_id}
