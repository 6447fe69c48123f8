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


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the item on the tier classify chose; an item on a tier without an executor waits."""
    executor = EXECUTORS.get(item.tier) if item.tier else None
    if executor is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               f"tier {item.tier} has no executor in this helmq version yet; "
                               "waiting", retry_after=ctx.retry_waiting_seconds)
    return executor(item, ctx)
