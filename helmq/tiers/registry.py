"""Which executor runs an item on its tier: the dispatch the execute stage falls back on."""

from __future__ import annotations

from collections.abc import Callable

from helmq.domain.item import WorkItem
from helmq.domain.model import Tier
from helmq.domain.outcome import Outcome, WaitReason
from helmq.tiers import claude, llm_call, script, vario
from helmq.tiers.context import StageContext

Executor = Callable[[WorkItem, StageContext], Outcome]
"""Runs one item on a tier (or for a job, as its handler) and says what came of it."""

EXECUTORS: dict[Tier, Executor] = {
    Tier.SCRIPT: script.execute,
    Tier.LLM_CALL: llm_call.execute,
    Tier.VARIO: vario.execute,
    Tier.CLAUDE_SESSION: claude.execute,
}


def execution_tier(item: WorkItem) -> Tier | None:
    """The tier classify chose, or else (a job that skips classify) the item's `tier:` tag."""
    tagged = item.data.get("tier")
    return item.tier or (Tier(tagged) if tagged in Tier._value2member_map_
                         and isinstance(tagged, str) else None)  # (isinstance: for mypy)


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the item on its execution tier; an item on a tier without an executor waits."""
    tier = execution_tier(item)
    executor = EXECUTORS.get(tier) if tier else None
    if executor is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               f"tier {tier} has no executor in this helmq version yet; "
                               "waiting", retry_after=ctx.retry_waiting_seconds)
    return executor(item, ctx)
