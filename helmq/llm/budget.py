"""Budgets that fail closed: reserve an estimate before a call, commit the real cost after.

`budget.daily_usd` and `budget.per_item_usd` (jobs.yaml) bound what is held in the ledger:
the costs of calls made plus the estimates of calls running. A call that would pass either
limit, or whose price is unknown, is refused before it is made (`BudgetExceeded`); the
stage then sets the item `waiting` with reason `budget` until `retry_at`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from helmq.errors import BadOutput, BudgetExceeded, LLMError, LLMTimeout
from helmq.llm.client import LLMResult
from helmq.llm.pricing import TokenUsage


class Limits(Protocol):
    """jobs.yaml's `budget` (helmq.domain.jobs.Budget): USD per UTC day and per item."""

    @property
    def daily_usd(self) -> float: ...
    @property
    def per_item_usd(self) -> float: ...


class LedgerStore(Protocol):
    """What the budget and the Claude tier need from the store (helmq.store.ledger.Ledger).

    The spend `reserve` returns, and passes to `accept`, has `day_usd` and `item_usd`."""

    def reserve(self, *, day: date, job: str, estimate_usd: Decimal,
                accept: Callable[[Any], bool], item_id: int | None = None,
                run_id: int | None = None, stage: str | None = None, tier: str | None = None,
                model: str | None = None, item_since: datetime | None = None,
                now: datetime | None = None) -> tuple[int | None, Any]: ...
    def commit(self, entry_id: int, *, cost_usd: Decimal, priced: bool,
               model: str | None = None, tokens: dict[str, int] | None = None,
               now: datetime | None = None) -> bool: ...
    def release(self, entry_id: int, *, now: datetime | None = None) -> bool: ...
    def abandon_stale(self, *, before: datetime, now: datetime | None = None) -> int: ...
    def held_by_item(self, item_id: int, since: datetime | None = None) -> Decimal: ...


@dataclass(frozen=True)
class Reservation:
    """An estimate held in the ledger for one call."""

    id: int
    day: date
    job: str
    item_id: int | None
    model: str
    estimate_usd: Decimal


def next_utc_midnight(now: datetime) -> datetime:
    """The start of the next UTC day: when a spent daily budget is available again."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=UTC)


def _usd(value: float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


class Budget:
    """The daily and per-item budgets over one ledger."""

    def __init__(self, ledger: LedgerStore, limits: Limits, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ledger = ledger
        self.daily_usd = _usd(limits.daily_usd)
        self.per_item_usd = _usd(limits.per_item_usd)
        self._clock = clock

    def reserve(self, *, job: str, model: str, estimate_usd: Decimal | None,
                item_id: int | None = None, run_id: int | None = None,
                stage: str | None = None, tier: str | None = None,
                item_since: datetime | None = None) -> Reservation:
        """Hold `estimate_usd` for one call, or raise BudgetExceeded and hold nothing."""
        now = self._clock()
        if estimate_usd is None:
            raise BudgetExceeded(f"the price of model {model!r} is unknown, so a call cannot be "
                                 "budgeted; add it to helmq/llm/pricing.py or pick a listed "
                                 "model", scope="unknown_cost", retry_at=None)
        day = now.astimezone(UTC).date()
        per_item = item_id is not None

        def accept(spend: Any) -> bool:
            return (spend.day_usd + estimate_usd <= self.daily_usd
                    and (not per_item or spend.item_usd + estimate_usd <= self.per_item_usd))

        entry_id, spend = self.ledger.reserve(
            day=day, job=job, estimate_usd=estimate_usd, accept=accept, item_id=item_id,
            run_id=run_id, stage=stage, tier=tier, model=model, item_since=item_since, now=now)
        if entry_id is not None:
            return Reservation(entry_id, day, job, item_id, model, estimate_usd)
        if per_item and spend.item_usd + estimate_usd > self.per_item_usd:
            raise BudgetExceeded(
                f"item {item_id}: ${spend.item_usd:.4f} spent + up to ${estimate_usd:.4f} for "
                f"this {model} call would pass budget.per_item_usd ${self.per_item_usd}; raise "
                "it in jobs.yaml to let the item continue", scope="per_item", retry_at=None)
        if estimate_usd > self.daily_usd:
            why = f"budget.daily_usd ${self.daily_usd} is less than one {model} call " \
                  f"(up to ${estimate_usd:.4f}); raise it in jobs.yaml"
        else:
            why = f"{day}: ${spend.day_usd:.4f} held + up to ${estimate_usd:.4f} for this " \
                  f"{model} call would pass budget.daily_usd ${self.daily_usd}; waiting for " \
                  "the next UTC day"
        raise BudgetExceeded(why, scope="daily", retry_at=next_utc_midnight(now))

    def commit(self, reservation: Reservation, cost_usd: Decimal | None, *,
               usage: TokenUsage | None = None, model: str | None = None) -> Decimal:
        """Record the call's real cost (its estimate when the price is unknown); the USD charged."""
        charged = reservation.estimate_usd if cost_usd is None else cost_usd
        tokens = None
        if usage is not None:
            tokens = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                      "cache_write_tokens": usage.cache_creation_input_tokens,
                      "cache_read_tokens": usage.cache_read_input_tokens}
        self.ledger.commit(reservation.id, cost_usd=charged, priced=cost_usd is not None,
                           model=model, tokens=tokens, now=self._clock())
        return charged

    def release(self, reservation: Reservation) -> None:
        """Give the estimate back: the call was not made or not billed."""
        self.ledger.release(reservation.id, now=self._clock())

    def spend(self, call: Callable[[], LLMResult], *, job: str, model: str,
              estimate_usd: Decimal | None, **where: Any) -> LLMResult:
        """Reserve, make `call`, commit what it cost; on failure commit or release, re-raise.

        A bad_output reply was billed (its cost is committed); a timed-out call may have
        been (its estimate is committed); any other failure was not (released).
        """
        reservation = self.reserve(job=job, model=model, estimate_usd=estimate_usd, **where)
        try:
            result = call()
        except BadOutput as exc:
            if exc.result is not None:
                self.commit(reservation, exc.result.cost_usd, usage=exc.result.usage,
                            model=exc.result.model)
            else:
                self.commit(reservation, None)
            raise
        except LLMTimeout:
            self.commit(reservation, None)
            raise
        except LLMError:
            self.release(reservation)
            raise
        except BaseException:
            # Unknown failure: we cannot tell whether the call was billed, so fail closed.
            self.commit(reservation, None)
            raise
        self.commit(reservation, result.cost_usd, usage=result.usage, model=result.model)
        return result

    def abandon_stale(self, older_than: timedelta) -> int:
        """Charge reservations older than `older_than` (dead workers) at their estimate."""
        now = self._clock()
        return self.ledger.abandon_stale(before=now - older_than, now=now)
