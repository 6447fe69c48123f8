"""The llm_call tier: one model call for edits (or a report), applied on the item's branch."""

from __future__ import annotations

from helmq.domain.item import WorkItem
from helmq.domain.outcome import Outcome
from helmq.llm.ask import ask, usage_summary
from helmq.tiers.context import StageContext
from helmq.tiers.llm_edits import SYSTEM, Change, apply_answer, build_prompt, start


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """One call for edits (or a report), applied on the item's branch."""
    started = start(item, ctx)
    if isinstance(started, Outcome):
        return started
    meter, wt = started
    got = ask(meter, "execute", SYSTEM, build_prompt(item, wt.path), Change, max_tokens=8000,
              what=f"llm_call for item {item.item_key}")
    if isinstance(got, Outcome):
        return got
    assert got.data is not None
    return apply_answer(item, wt, got.data, meter, {"usage": usage_summary(got)})
