"""Budgets fail closed, on SQLite and on a fresh Postgres database: reserve before a call,
commit after it, refuse what would pass a limit, and never let two workers share the last
dollar."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fake_anthropic import FakeAnthropic, json_reply, overloaded, text
from pydantic import BaseModel
from sqlalchemy import Engine, insert

from helmq.domain.clock import utcnow
from helmq.domain.jobs import Budget as Limits
from helmq.errors import ApiOverloaded, BadOutput, BudgetExceeded
from helmq.llm.budget import Budget
from helmq.llm.client import LLMClient, LLMConfig, Role
from helmq.llm.pricing import TokenUsage
from helmq.store.engine import make_engine
from helmq.store.ledger import Entry, Ledger, llm_costs
from helmq.store.schema import work_items

NOW = datetime(2030, 1, 1, 15, 30, tzinfo=UTC)
JOB = "maint"
USD = Decimal


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    return Ledger(engine)


def new_item(engine: Engine, key: str = "a") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(work_items).returning(work_items.c.id), {
            "job": JOB, "item_key": key, "fingerprint": f"fp-{key}", "status": "queued",
            "data": {}, "created_at": utcnow(), "updated_at": utcnow(),
        }).scalar_one()


def budget(ledger: Ledger, daily: float = 1.0, per_item: float = 0.5,
           now: datetime = NOW) -> Budget:
    return Budget(ledger, Limits(daily_usd=daily, per_item_usd=per_item), clock=lambda: now)


def reserve(b: Budget, estimate: str | None, item_id: int | None = None):
    return b.reserve(job=JOB, model="claude-haiku-4-5", stage="classify", item_id=item_id,
                     estimate_usd=None if estimate is None else USD(estimate))


def test_reserve_then_commit_records_the_real_cost(ledger, engine):
    item = new_item(engine)
    b = budget(ledger)

    held = reserve(b, "0.20", item)
    assert ledger.held_on(NOW.date()) == USD("0.20")
    charged = b.commit(held, USD("0.013"), usage=TokenUsage(1000, 200, 30, 4000))

    assert charged == USD("0.013")
    assert ledger.held_on(NOW.date()) == USD("0.013")
    assert ledger.held_by_item(item) == USD("0.013")
    [row] = ledger.entries(item_id=item)
    assert row["state"] == Entry.COMMITTED
    assert (row["day"], row["job"], row["stage"], row["model"]) == (
        date(2030, 1, 1), JOB, "classify", "claude-haiku-4-5")
    assert (row["input_tokens"], row["output_tokens"], row["cache_write_tokens"],
            row["cache_read_tokens"]) == (1000, 200, 30, 4000)
    assert row["priced"] is True


def test_daily_budget_refuses_and_retries_at_the_next_utc_midnight(ledger):
    b = budget(ledger, daily=1.0)
    b.commit(reserve(b, "0.70"), USD("0.70"))

    with pytest.raises(BudgetExceeded) as caught:
        reserve(b, "0.40")

    assert caught.value.reason == "budget"
    assert caught.value.scope == "daily"
    assert caught.value.retry_at == datetime(2030, 1, 2, tzinfo=UTC)
    assert len(ledger.entries(day=NOW.date())) == 1  # nothing held for the refused call
    # The next day has its own budget.
    tomorrow = budget(ledger, daily=1.0, now=NOW + timedelta(days=1))
    assert reserve(tomorrow, "0.40").day == date(2030, 1, 2)


def test_per_item_budget_refuses_without_a_retry_time(ledger, engine):
    first, second = new_item(engine, "a"), new_item(engine, "b")
    b = budget(ledger, daily=10, per_item=0.5)
    b.commit(reserve(b, "0.30", first), USD("0.30"))

    with pytest.raises(BudgetExceeded) as caught:
        reserve(b, "0.30", first)

    assert (caught.value.scope, caught.value.retry_at) == ("per_item", None)
    assert reserve(b, "0.30", second).item_id == second  # other items are unaffected


def test_per_item_spend_can_start_from_a_recurring_items_last_completion(ledger, engine):
    item = new_item(engine)
    b = budget(ledger, daily=10, per_item=0.5)
    b.commit(reserve(b, "0.45", item), USD("0.45"))

    later = b.reserve(job=JOB, model="m", estimate_usd=USD("0.45"), item_id=item,
                      item_since=NOW + timedelta(seconds=1))

    assert later.item_id == item


def test_unknown_cost_is_refused_before_any_call(ledger):
    with pytest.raises(BudgetExceeded) as caught:
        reserve(budget(ledger), None)

    assert caught.value.scope == "unknown_cost"
    assert "pricing.py" in str(caught.value)
    assert ledger.entries() == []


def test_open_reservations_count_until_released(ledger):
    b = budget(ledger, daily=1.0)
    running = reserve(b, "0.80")

    with pytest.raises(BudgetExceeded):
        reserve(b, "0.30")
    b.release(running)

    assert reserve(b, "0.30").estimate_usd == USD("0.30")
    assert ledger.held_on(NOW.date()) == USD("0.30")


def test_a_call_with_unknown_real_cost_is_charged_its_estimate(ledger):
    b = budget(ledger)
    held = reserve(b, "0.25")

    assert b.commit(held, None) == USD("0.25")
    [row] = ledger.entries()
    assert (row["state"], row["priced"]) == (Entry.COMMITTED, False)
    assert ledger.held_on(NOW.date()) == USD("0.25")


def test_commit_and_release_only_touch_open_reservations(ledger):
    b = budget(ledger)
    held = reserve(b, "0.10")
    b.commit(held, USD("0.05"))

    assert not ledger.release(held.id)
    assert not ledger.commit(held.id, cost_usd=USD("9"), priced=True)
    assert ledger.held_on(NOW.date()) == USD("0.05")


def test_stale_reservations_are_abandoned_at_their_estimate(ledger):
    b = budget(ledger, now=utcnow())
    stale = reserve(b, "0.20")

    assert b.abandon_stale(timedelta(hours=-1)) == 1  # everything counts as stale here
    assert not ledger.release(stale.id)
    [row] = ledger.entries()
    assert (row["state"], row["cost_usd"]) == (Entry.ABANDONED, 0.2)
    assert ledger.held_on(utcnow().date()) == USD("0.20")


def test_two_workers_never_share_the_last_of_the_budget(ledger):
    # Given a daily budget with room for exactly 3 calls of $0.30
    b = budget(ledger, daily=1.0)
    barrier = threading.Barrier(6)
    won: list[int] = []
    refused: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            won.append(reserve(b, "0.30").id)
        except BudgetExceeded as exc:
            refused.append(exc.scope)

    # When six workers reserve at the same moment
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    # Then exactly three got through and the ledger holds no more than the budget
    assert (len(won), refused) == (3, ["daily"] * 3)
    assert ledger.held_on(NOW.date()) == USD("0.90")


def test_day_summary_groups_calls_by_job_and_model(ledger):
    b = budget(ledger, daily=10)
    for model, usd in (("claude-haiku-4-5", "0.01"), ("claude-haiku-4-5", "0.02"),
                       ("claude-sonnet-4-6", "0.50")):
        held = b.reserve(job=JOB, model=model, estimate_usd=USD("0.6"))
        b.commit(held, USD(usd), usage=TokenUsage(100, 10), model=model)
    b.release(b.reserve(job=JOB, model="claude-haiku-4-5", estimate_usd=USD("0.1")))

    summary = ledger.day_summary(NOW.date())

    assert [(s["model"], s["calls"], s["input_tokens"], s["cost_usd"]) for s in summary] == [
        ("claude-haiku-4-5", 2, 200, USD("0.03")), ("claude-sonnet-4-6", 1, 100, USD("0.5"))]


def test_migration_matches_the_table_definition(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), llm_costs.metadata)

    assert [d for d in diff if "llm_costs" in repr(d)] == []


# --- a budgeted call through the real SDK against the fake API ------------------------------

class Verdict(BaseModel):
    verdict: str


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeAnthropic]:
    with FakeAnthropic(tmp_path / "requests.jsonl") as server:
        yield server


def llm(fake: FakeAnthropic) -> LLMClient:
    return LLMClient(LLMConfig(api_key="sk-test", base_url=fake.url, max_retries=1,
                               backoff_base=0.001, backoff_max=0.001,
                               models={"review": "claude-haiku-4-5"}))


def spend(b: Budget, client: LLMClient, item_id: int | None = None):
    def call():
        return client.json_call(Role.REVIEW, "Review diffs.", "diff", Verdict, max_tokens=2000)

    return b.spend(call, job=JOB, model=client.model_for(Role.REVIEW), item_id=item_id,
                   estimate_usd=client.estimate(Role.REVIEW, "Review diffs.", "diff", Verdict,
                                                max_tokens=2000))


@pytest.mark.parametrize(("daily", "per_item", "scope"), [(5, 0.001, "per_item"),
                                                         (0.001, 5, "daily")])
def test_a_budget_smaller_than_one_call_makes_no_call(ledger, fake, engine, daily, per_item,
                                                      scope):
    # Given a budget below what one review call may cost
    item = new_item(engine)
    b = budget(ledger, daily=daily, per_item=per_item)

    # When the stage tries the call
    with pytest.raises(BudgetExceeded) as caught:
        spend(b, llm(fake), item)

    # Then the item waits for budget and the API was never asked
    assert (caught.value.reason, caught.value.scope) == ("budget", scope)
    assert "raise it in jobs.yaml" in str(caught.value)
    assert fake.requests == []
    assert ledger.entries() == []


def test_spend_commits_what_the_call_cost(ledger, fake):
    fake.script(json_reply({"verdict": "accept"}, input_tokens=1000, output_tokens=100))

    result = spend(budget(ledger), llm(fake))

    assert result.cost_usd == USD("0.0015")
    [row] = ledger.entries()
    assert (row["state"], row["cost_usd"], row["input_tokens"]) == (
        Entry.COMMITTED, 0.0015, 1000)


def test_spend_commits_bad_output_and_releases_unbilled_failures(ledger, fake):
    b = budget(ledger)
    fake.script(text("not json", input_tokens=2000, output_tokens=10))
    with pytest.raises(BadOutput):
        spend(b, llm(fake))
    fake.when(reply=overloaded())
    with pytest.raises(ApiOverloaded):
        spend(b, llm(fake))

    billed, overloaded_call = ledger.entries()
    assert (billed["state"], billed["cost_usd"]) == (Entry.COMMITTED, 0.00205)
    assert overloaded_call["state"] == Entry.RELEASED
    assert ledger.held_on(NOW.date()) == USD("0.00205")
