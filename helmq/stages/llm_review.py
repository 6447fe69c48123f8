"""review for the LLM tiers: proof first (the branch holds only the files the answer edited),
then a model's verdict. `accept` settles the item, `needs_work` sends it back to execute with
the feedback (at most K rounds), `reject` suppresses its fingerprint until its content
changes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from helmq.domain.item import WorkItem
from helmq.domain.model import Stage
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.llm.ask import ask, usage_summary
from helmq.repos.worktree import Worktree, branch_diff, changed_files, prepare_worktree
from helmq.tiers.context import StageContext

MAX_DIFF_CHARS = 60_000

SYSTEM = """\
You review one change that an automated maintainer made for a backlog item, before a person
sees it. You get the item, the plan, the maintainer's summary or report, and the diff of its
branch. Decide:
- accept: the change (or report) settles the item, is correct, minimal and safe to merge.
- needs_work: the direction is right but something must be fixed first; say exactly what in
  `feedback` (it goes back to the maintainer for another round).
- reject: the item should not be done this way or at all (wrong, harmful, out of scope,
  or the item is obsolete); say why.
Judge only what you see. Answer with JSON only, matching the schema.
"""


class Verdict(BaseModel):
    """The review model's answer."""

    verdict: Literal["accept", "needs_work", "reject"]
    reasons: list[str] = Field(max_length=10)
    feedback: str = Field(default="", max_length=4000)


def _prompt(item: WorkItem, done: dict, diff: str) -> str:
    facts = {
        "title": item.title,
        "description": item.data.get("description") or None,
        "plan": (item.data.get("classify") or {}).get("plan"),
        "tier": str(item.tier),
        "summary": done.get("summary"),
        "report": done.get("report") or done.get("result"),
        "vote": (done.get("vote") or {}).get("tally"),
        "round": item.review_rounds + 1,
    }
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[diff cut]"
    return ("Item and what was done:\n"
            + json.dumps({k: v for k, v in facts.items() if v}, ensure_ascii=False, indent=1)
            + "\n\nDiff of the branch:\n" + (shown or "(no file changes)"))


def _proof(item: WorkItem, ctx: StageContext, done: dict) -> tuple[Worktree | None, str] | Outcome:
    """The worktree and diff to judge, or the failed Outcome when the branch breaks scope."""
    scope = done.get("scope") or done.get("files") or done.get("changed_files") or []
    if not scope:
        return None, ""
    assert item.repo is not None
    wt = prepare_worktree(Path(item.repo), ctx.worktrees_dir, item.item_key)
    outside = sorted(set(changed_files(wt)) - set(scope))
    if outside:
        msg = f"the branch changes files the answer did not edit: {', '.join(outside)}"
        return Outcome.failed(FailureClass.OUT_OF_SCOPE, msg,
                              data={"review": {"verdict": "failed", "reasons": [msg]}})
    return wt, branch_diff(wt)


def review_llm(item: WorkItem, ctx: StageContext, *, on_accept) -> Outcome:
    """Judge an LLM tier's result; `on_accept(item, wt, verdict, diff)` settles an accepted
    item (ticks its TODO entry, writes the report) and returns the final Outcome."""
    done = item.data.get("execute") or {}
    proof = _proof(item, ctx, done)
    if isinstance(proof, Outcome):
        return proof
    wt, diff = proof
    if ctx.llm is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               "no LLM service in this process to review",
                               retry_after=ctx.retry_waiting_seconds)
    meter = ctx.llm.meter(item, Stage.REVIEW.value, str(item.tier))
    got = ask(meter, "review", SYSTEM, _prompt(item, done, diff), Verdict, max_tokens=1500,
              what=f"reviewing item {item.item_key}")
    if isinstance(got, Outcome):
        return got
    assert got.data is not None
    found = got.data
    verdict = {"verdict": found.verdict, "reasons": list(found.reasons),
               "feedback": found.feedback, "by": "llm", **usage_summary(got)}
    cost = meter.cost_usd
    if found.verdict == "needs_work":
        return Outcome.needs_work(
            f"review asks for another round: {found.feedback or found.reasons}",
            data={"review": verdict}, cost_usd=cost)
    if found.verdict == "reject":
        return Outcome.rejected("rejected: " + "; ".join(found.reasons or ["no reason given"]),
                                data={"review": verdict}, cost_usd=cost)
    return replace(on_accept(item, wt, verdict, diff), cost_usd=cost)
