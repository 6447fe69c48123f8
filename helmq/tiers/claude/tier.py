"""The Claude session tier's executor: the session (helmq.tiers.claude.session) under the
item's budget, reserved before the CLI starts and settled after it ends."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from helmq.domain.item import WorkItem
from helmq.domain.model import Stage, Tier
from helmq.domain.outcome import Outcome, WaitReason
from helmq.errors import BudgetExceeded, HelmqError
from helmq.llm.ask import failure_or_raise
from helmq.llm.budget import Budget, Reservation
from helmq.tiers.claude.session import execute_claude
from helmq.tiers.context import StageContext


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """A headless Claude Code session in the item's worktree (helmq.tiers.claude.session).

    The session may spend what the item's budget has left, at most its own ceiling: that is
    reserved against the daily and per-item budgets before the CLI starts, passed to it as
    `--max-budget-usd`, and its real cost committed after (the ceiling when the cost is
    unknown). A session that never started is charged nothing."""
    if ctx.claude is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               "the Claude session tier is not set up in this process; waiting",
                               retry_after=ctx.retry_waiting_seconds)
    if ctx.llm is None:
        return execute_claude(item, ctx, repo=ctx.sessions, config=ctx.claude)
    budget = ctx.llm.budget
    since = item.last_completed if item.recurrence else None
    try:
        ceiling = Decimal(str(ctx.claude.limits_for(item.data).max_budget_usd))
    except HelmqError:
        ceiling = Decimal(str(ctx.claude.max_budget_usd))  # the session reports the bad value
    left = budget.per_item_usd - budget.ledger.held_by_item(item.id, since)
    allowed = min(ceiling, left).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    try:
        if allowed <= 0:
            raise BudgetExceeded(f"item {item.id} has spent its budget.per_item_usd "
                                 f"${budget.per_item_usd}; raise it in jobs.yaml to let the "
                                 "item continue", scope="per_item", retry_at=None)
        reservation = budget.reserve(
            job=item.job, model=ctx.claude.model or "claude-code", estimate_usd=allowed,
            item_id=item.id, stage=Stage.EXECUTE.value, tier=Tier.CLAUDE_SESSION.value,
            item_since=since)
    except BudgetExceeded as exc:
        return failure_or_raise(exc, None, what=f"a Claude session for {item.item_key}")
    bounded = replace(item, data={**item.data, "max_budget_usd": float(allowed)})
    try:
        outcome = execute_claude(bounded, ctx, repo=ctx.sessions, config=ctx.claude)
    except BaseException:
        found = ctx.sessions.get_item(item.id) if ctx.sessions is not None else None
        _settle_session(budget, reservation, (found.data.get("claude") or {}) if found else {})
        raise
    _settle_session(budget, reservation, outcome.data.get("claude") or {})
    return outcome


def _settle_session(budget: Budget, reservation: Reservation, session: dict) -> None:
    """Charge a session what it cost; the whole reservation when it took turns but its cost
    is unknown (fail closed); nothing when the model never answered it."""
    if session.get("cost_usd") is not None:
        budget.commit(reservation, Decimal(str(session["cost_usd"])))
    elif session.get("turns"):
        budget.commit(reservation, None)
    else:
        budget.release(reservation)
