"""The `feed` job's handler: one model call summarises a feed entry for the maintainer.

A summary changes no file, so it needs no worktree; review judges it like any other LLM
tier's report. Without ANTHROPIC_API_KEY the item waits (reason no_credentials), never faked."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from helmq.domain.item import WorkItem
from helmq.domain.model import Stage, Tier
from helmq.domain.outcome import Outcome, WaitReason
from helmq.llm.ask import ask, usage_summary
from helmq.tiers.context import StageContext

HANDLER = "handlers.feed.process"

SYSTEM = """\
You summarise one entry of a feed (release notes, a project blog, security advisories) for
the maintainer of a code base, who will read your summary instead of the entry. You get the
entry's title, feed, link, date and text; the text may be cut short.
- summary: what the entry announces, in two to four plain sentences.
- action: what the maintainer should do about it (upgrade, migrate, read, nothing), in one
  sentence.
- relevance: high = a breaking change, a security fix, or a deprecation with a date;
  medium = a notable change or feature; low = news that asks nothing of the maintainer.
Use only what the entry says; never invent versions, dates or links.
Answer with JSON only, matching the schema.
"""


class Summary(BaseModel):
    """What the model answers for one feed entry."""

    summary: str = Field(max_length=2000)
    action: str = Field(max_length=500)
    relevance: Literal["high", "medium", "low"]


def prompt(item: WorkItem) -> str:
    """The entry as the model sees it, with review's feedback in a later round."""
    data = item.data
    facts = {"title": item.title, "feed": data.get("scope"), "link": data.get("link"),
             "published": data.get("published"), "text": data.get("summary")}
    parts = ["Feed entry:", json.dumps({k: v for k, v in facts.items() if v},
                                       ensure_ascii=False, indent=1)]
    feedback = (data.get("review") or {}) if item.review_rounds else {}
    if feedback.get("feedback") or feedback.get("reasons"):
        parts += ["", "Review sent an earlier summary back:",
                  feedback.get("feedback") or "; ".join(feedback["reasons"])]
    return "\n".join(parts)


def process(item: WorkItem, ctx: StageContext) -> Outcome:
    """Summarise the entry with one budgeted call and hand the summary to review."""
    if not ctx.llm_credentials or (ctx.llm is not None and not ctx.llm.has_credentials):
        return Outcome.waiting(WaitReason.NO_CREDENTIALS,
                               f"summarising feed entry {item.item_key} needs ANTHROPIC_API_KEY; "
                               "waiting until it is set", retry_after=ctx.retry_waiting_seconds)
    if ctx.llm is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE, "no LLM service in this process",
                               retry_after=ctx.retry_waiting_seconds)
    meter = ctx.llm.meter(item, Stage.EXECUTE.value, Tier.LLM_CALL.value)
    got = ask(meter, "execute", SYSTEM, prompt(item), Summary, max_tokens=1000,
              what=f"summarising feed entry {item.item_key}")
    if isinstance(got, Outcome):
        return got
    assert got.data is not None
    answer = got.data
    link = item.data.get("link")
    report = (f"{answer.summary}\n\nWhat to do: {answer.action}\nRelevance: {answer.relevance}"
              + (f"\nEntry: {link}" if link else ""))
    result = {"tier": Tier.LLM_CALL.value, "handler": HANDLER, "summary": answer.summary,
              "action": answer.action, "relevance": answer.relevance, "report": report,
              "files": [], "scope": [], "calls": meter.calls, "models": meter.models,
              "cost_usd": meter.cost_usd, "usage": usage_summary(got)}
    return Outcome.next(Stage.REVIEW, f"summarised ({answer.relevance} relevance)",
                        data={"execute": result}, cost_usd=meter.cost_usd)
