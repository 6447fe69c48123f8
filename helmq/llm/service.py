"""What the stages use to call an LLM: one lazily built client per process, the budget, and
a meter per stage run that adds up what its calls cost.

Every call is budgeted: an estimate is reserved before it (fail closed), the real cost is
committed after it. `helmq.llm.ask` turns a call's errors into an Outcome."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel

from helmq.domain.item import WorkItem
from helmq.domain.jobs import Vario
from helmq.errors import BadOutput, LLMTimeout
from helmq.llm.budget import Budget
from helmq.llm.client import DEFAULT_MODELS, LLMClient, LLMConfig, LLMResult

T = TypeVar("T", bound=BaseModel)


class LLMService:
    """One per process: the client (built on first use, shared by threads) and the budget."""

    def __init__(self, config: LLMConfig, budget: Budget, *, vario: Vario | None = None) -> None:
        self.config = config
        self.budget = budget
        self.vario = vario or Vario()
        self._client: LLMClient | None = None
        self._lock = threading.Lock()

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
