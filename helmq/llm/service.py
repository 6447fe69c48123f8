"""What the stages use to call an LLM: one lazily built client per process, the budget, and
a meter per stage run that adds up what its calls cost.

Every call is budgeted: an estimate is reserved before it (fail closed), the real cost is
committed after it. A stage turns the errors into an Outcome with `llm_failure`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine

from helmq.config.jobs import Budget as BudgetLimits
from helmq.config.jobs import Vario
from helmq.config.settings import Settings
from helmq.domain.item import WorkItem
from helmq.domain.model import Status
from helmq.domain.outcome import Outcome
from helmq.errors import BadOutput, BudgetExceeded, LLMError, LLMTimeout, NoCredentials
from helmq.llm.budget import Budget
from helmq.llm.client import DEFAULT_MODELS, LLMClient, LLMConfig, LLMResult
from helmq.store.ledger import Ledger
from helmq.store.schema import utcnow

T = TypeVar("T", bound=BaseModel)

RETRY_LATER_SECONDS = 600.0
"""When a retryable API failure gives no retry-after: try the item again in ten minutes."""


def llm_config(settings: Settings) -> LLMConfig:
    """The client configuration the environment describes."""
    return LLMConfig(
        api_key=settings.anthropic_api_key,
        base_url=settings.anthropic_base_url,
        models={**DEFAULT_MODELS, **settings.models},
        max_retries=settings.llm_max_retries,
        timeout=settings.llm_timeout,
        backoff_base=settings.llm_backoff_base,
    )


class LLMService:
    """One per process: the client (built on first use, shared by threads) and the budget."""

    def __init__(self, config: LLMConfig, budget: Budget, *, vario: Vario | None = None) -> None:
        self.config = config
        self.budget = budget
        self.vario = vario or Vario()
        self._client: LLMClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def build(cls, settings: Settings, engine: Engine, limits: BudgetLimits,
              vario: Vario | None = None) -> LLMService:
        return cls(llm_config(settings), Budget(Ledger(engine), limits), vario=vario)

    @property
    def has_credentials(self) -> bool:
        return self.config.has_credentials

    def client(self) -> LLMClient:
        """The shared client; NoCredentials when no API key is configured."""
        with self._lock:
            if self._client is None:
                self._client = LLMClient(self.config)
            return self._client

    def model_for(self, role: str) -> str:
        return dict(self.config.models).get(role) or DEFAULT_MODELS[role]

    def meter(self, item: WorkItem, stage: str, tier: str | None) -> Meter:
        """A meter for the calls of one stage run of `item`."""
        return Meter(self, item, stage, tier)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


@dataclass
class Meter:
    """Budgeted calls for one stage run; `cost` is what they were charged in all."""

    service: LLMService
    item: WorkItem
    stage: str
    tier: str | None
    cost: Decimal = Decimal(0)
    calls: int = 0
    models: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def json_call(self, role: str, system: str, prompt: str, schema: type[T], *,
                  instructions: str | None = None, max_tokens: int = 1024,
                  model: str | None = None) -> LLMResult[T]:
        """One structured call, reserved against the budgets first and charged after."""
        client = self.service.client()
        chosen = model or client.model_for(role)
        estimate = client.estimate(role, system, prompt, schema, instructions=instructions,
                                   max_tokens=max_tokens, model=chosen)
        since = self.item.last_completed if self.item.recurrence else None
        try:
            result = self.service.budget.spend(
                lambda: client.json_call(role, system, prompt, schema, instructions=instructions,
                                         max_tokens=max_tokens, model=chosen),
                job=self.item.job, model=chosen, estimate_usd=estimate, item_id=self.item.id,
                stage=self.stage, tier=self.tier, item_since=since)
        except BadOutput as exc:
            billed = exc.result.cost_usd if exc.result is not None else None
            self._add(chosen, billed if billed is not None else estimate)
            raise
        except LLMTimeout:
            self._add(chosen, estimate)
            raise
        self._add(chosen, result.cost_usd if result.cost_usd is not None else estimate)
        return result

    def _add(self, model: str, cost: Decimal | None) -> None:
        with self._lock:
            self.calls += 1
            self.models.append(model)
            self.cost += cost or Decimal(0)

    @property
    def cost_usd(self) -> float:
        return float(self.cost)


def llm_failure(exc: Exception, meter: Meter | None, *, what: str) -> Outcome | None:
    """The Outcome for an LLM-side failure of a stage, or None when `exc` is not one.

    No key and an exhausted budget make the item wait; an API that keeps failing makes it
    wait and retry later (the stage run records the failure class); output that is not what
    was asked for fails the item as `bad_output`."""
    cost = meter.cost_usd if meter is not None else 0.0
    if isinstance(exc, NoCredentials):
        return Outcome(Status.WAITING, "waiting", f"{what} needs ANTHROPIC_API_KEY; waiting "
                       "until it is set", waiting_reason="no_credentials", cost_usd=cost)
    if isinstance(exc, BudgetExceeded):
        # The next UTC day for the daily budget; an hour for the per-item one, so that a
        # raised budget.per_item_usd lets the item go on without a person's retry.
        retry = (exc.retry_at - utcnow()).total_seconds() if exc.retry_at else 3600.0
        return Outcome(Status.WAITING, "waiting", f"{what}: {exc}", waiting_reason="budget",
                       failure_class="budget", retry_after_seconds=max(retry, 60.0),
                       cost_usd=cost)
    if not isinstance(exc, LLMError):
        return None
    if exc.retryable:
        wait = exc.retry_after if exc.retry_after else RETRY_LATER_SECONDS
        return Outcome(Status.WAITING, "failed", f"{what}: {exc}; retrying in {wait:.0f} s",
                       failure_class=exc.failure_class, waiting_reason=exc.failure_class,
                       retry_after_seconds=wait, cost_usd=cost, error=str(exc))
    return Outcome(Status.FAILED, "failed", f"{what}: {exc}", failure_class=exc.failure_class,
                   cost_usd=cost, error=str(exc))


def usage_summary(result: LLMResult[Any]) -> dict[str, Any]:
    """What a stage keeps about one call: model, tokens, cost."""
    return {"model": result.model, "tokens": result.usage.as_dict(),
            "cost_usd": float(result.cost_usd) if result.cost_usd is not None else None,
            "request_id": result.request_id}
