"""The `codebase_maintenance` job's handler: each item runs on the tier classify chose for it.

The built-in default job names it (`handler: handlers.codebase_maintenance.process`); a job
that wants the built-in tiers with something around them can wrap it."""

from __future__ import annotations

from helmq.domain.item import WorkItem
from helmq.domain.outcome import Outcome
from helmq.tiers import registry
from helmq.tiers.context import StageContext


def process(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the item on its execution tier (script, llm_call, vario or claude_session)."""
    return registry.execute(item, ctx)
