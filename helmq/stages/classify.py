"""classify: rules first. An explicit tag wins, then a script check by title; only an item the
rules cannot place is asked of the LLM, once: its answer is kept with a key of the item's
content, so a rescan, a retry or a recurrence never asks again."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field

from helmq.checks.registry import all_checks, get_check, match_check
from helmq.domain.eligibility import matches_filter
from helmq.domain.item import WorkItem, filter_data
from helmq.domain.model import Stage, Tier
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.errors import UnknownCheckError
from helmq.llm.ask import ask, usage_summary
from helmq.tiers.context import StageContext
from helmq.tiers.registry import EXECUTORS

EXECUTABLE_TIERS = frozenset(EXECUTORS)
"""Tiers this helmq can execute."""
LLM_TIERS = frozenset({Tier.LLM_CALL, Tier.VARIO, Tier.CLAUDE_SESSION})

PROMPT_VERSION = "classify-1"
"""Part of the cache key: a changed prompt asks again."""

SYSTEM = """\
You classify maintenance work items for helmq, a tool that works through a code base's
backlog while its owner is away. Each item comes from a TODO.md entry, a TODO/FIXME comment
in code, a documentation check or a convention rule. Place it on the cheapest tier that can
do it well, and say how risky and how big it is.

Tiers, cheapest first:
- script: a deterministic check fixes it. Only when one of the listed checks clearly applies;
  name it in `check`.
- llm_call: one model call can do it by returning whole-file or search-and-replace edits to a
  few files it can see (the item's own file is shown to it), or a short written report. Good
  for: typos, wording in docs, a small local code change, a docstring, a comment that is out
  of date, answering a question about a file.
- vario: a judgement call where several independent answers and a vote are worth more than
  one: "is this still needed?", "which of these two approaches?", risky one-line changes.
- claude_session: an agent with tools in a worktree: multi-file changes, anything that needs
  to run tests, search the code base, or explore before editing. The most expensive tier.

Risk (what happens if the change is wrong and merged unread): low = docs, comments, tests,
dead code; medium = behaviour change in non-critical code; high = security, data, money,
public APIs, migrations, concurrency.
Effort: S = minutes for a person, M = an hour or two, L = a day or more.
Type: bug, docs, refactor, test, chore, feature, decision or other.
Plan: one short paragraph a worker can follow: what to change, where, and how to check it.

Answer with JSON only, matching the schema. Never invent a check name.
"""


class Classification(BaseModel):
    """What the classify model answers for one item."""

    tier: Literal["script", "llm_call", "vario", "claude_session"]
    check: str | None = None
    type: Literal["bug", "docs", "refactor", "test", "chore", "feature", "decision", "other"]
    risk: Literal["low", "medium", "high"]
    effort: Literal["S", "M", "L"]
    plan: str = Field(max_length=2000)


def cache_key(item: WorkItem) -> str:
    """What the classification depends on: the item's content and the prompt's version."""
    data = item.data
    parts = [PROMPT_VERSION, item.title, str(data.get("description") or ""),
             str(data.get("scope") or ""), str(item.source_file or ""),
             str(data.get("source") or "")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _decide(item: WorkItem) -> tuple[Tier, str | None, str] | None:
    """(tier, check name, why) from the item's tags and title; None when no rule places it."""
    data = item.data
    explicit = data.get("tier")
    check_name = data.get("check")
    if check_name:
        get_check(check_name)  # an unknown name is the item's error, raised here
    if explicit:
        tier = Tier(explicit)
        if tier is Tier.SCRIPT and not check_name:
            matched = match_check(item.title)
            if matched is None:
                raise UnknownCheckError(
                    f"item {item.item_key} asks for tier:script but no script check matches "
                    "its title; add a check:NAME tag"
                )
            check_name = matched.name
        return tier, check_name if tier is Tier.SCRIPT else None, f"tagged tier:{tier}"
    if check_name:
        return Tier.SCRIPT, check_name, f"tagged check:{check_name}"
    matched = match_check(item.title)
    if matched is not None:
        return Tier.SCRIPT, matched.name, f"title matches the {matched.name} check"
    return None


def _prompt(item: WorkItem) -> str:
    data = item.data
    checks = ", ".join(f"{c.name} ({'; '.join(c.keywords[:3])})" for c in all_checks())
    facts = {
        "title": item.title,
        "description": data.get("description") or "",
        "scope": data.get("scope") or "",
        "source": data.get("source"),
        "file": f"{item.source_file}:{item.line}" if item.source_file else None,
        "marker": data.get("marker"),
    }
    return (f"Available script checks: {checks}\n\nItem:\n"
            f"{json.dumps({k: v for k, v in facts.items() if v}, ensure_ascii=False, indent=1)}")


def _from_llm(found: Classification) -> tuple[Tier, str | None, str]:
    tier = Tier(found.tier)
    check = found.check
    if tier is Tier.SCRIPT:
        try:
            get_check(check or "")
        except UnknownCheckError:
            # No check can do it after all: one model call is the next cheapest.
            return Tier.LLM_CALL, None, f"LLM said script with unknown check {check!r}"
    return tier, check if tier is Tier.SCRIPT else None, f"LLM: {found.type}, {found.risk} risk"


def _ask(item: WorkItem, ctx: StageContext) -> tuple[dict, float] | Outcome:
    """The LLM's classification as stored in data, and what it cost; or the Outcome to end
    the stage with (no key, no budget, API failure)."""
    cached = (item.data.get("classify") or {}).get("llm")
    key = cache_key(item)
    if cached and cached.get("cache_key") == key:
        return cached, 0.0
    if ctx.llm is None or not ctx.llm.has_credentials:
        # Unclassified, it has no tier yet: nothing says which one it will need.
        return Outcome.waiting(WaitReason.NO_CREDENTIALS, "no rule places it and classifying it "
                               "needs ANTHROPIC_API_KEY; waiting until it is set",
                               retry_after=ctx.retry_waiting_seconds)
    meter = ctx.llm.meter(item, Stage.CLASSIFY.value, None)
    result = ask(meter, "classify", SYSTEM, _prompt(item), Classification, max_tokens=600,
                 what=f"classifying item {item.item_key}")
    if isinstance(result, Outcome):
        return result
    assert result.data is not None
    stored = {**result.data.model_dump(), "cache_key": key, **usage_summary(result)}
    return stored, meter.cost_usd


def classify(item: WorkItem, ctx: StageContext) -> Outcome:
    """Place the item on the cheapest tier the rules, or else the LLM, allow."""
    try:
        decided = _decide(item)
    except UnknownCheckError as exc:
        return Outcome.failed(FailureClass.UNKNOWN_CHECK, str(exc), error=str(exc))
    except ValueError:
        msg = f"item {item.item_key} has an unknown tier {item.data.get('tier')!r}"
        return Outcome.failed(FailureClass.BAD_ITEM, msg, error=msg)
    cost, llm = 0.0, None
    if decided is not None:
        tier, check, why = decided
        by = "rules"
    else:
        asked = _ask(item, ctx)
        if isinstance(asked, Outcome):
            return asked
        llm, cost = asked
        tier, check, why = _from_llm(Classification.model_validate(
            {k: llm[k] for k in Classification.model_fields}))
        by = "llm"
    result = {"classify": {"tier": tier.value, "check": check, "by": by, "reason": why,
                           **({"llm": llm, "plan": llm["plan"]} if llm else {})}}
    held = _held(item, result, ctx)
    if held is not None:
        return Outcome.waiting(WaitReason.FILTERED, held, retry_after=ctx.retry_waiting_seconds,
                               tier=tier, data=result, cost_usd=cost)
    if tier in LLM_TIERS and not ctx.llm_credentials:
        return Outcome.waiting(WaitReason.NO_CREDENTIALS,
                               f"tier {tier} needs ANTHROPIC_API_KEY; waiting until it is set",
                               retry_after=ctx.retry_waiting_seconds, tier=tier, data=result,
                               cost_usd=cost)
    if tier not in EXECUTABLE_TIERS:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               f"tier {tier} has no executor in this helmq version yet; waiting",
                               retry_after=ctx.retry_waiting_seconds, tier=tier, data=result,
                               cost_usd=cost)
    return Outcome.next(Stage.EXECUTE, f"tier {tier}: {why}", tier=tier, data=result,
                        cost_usd=cost)


def _held(item: WorkItem, result: dict, ctx: StageContext) -> str | None:
    """Why the job's data_filter no longer admits the item, now that the LLM said how risky
    and big it is (the item's own tags still win); None when it does."""
    llm = result["classify"].get("llm")
    if llm is None or ctx.jobs is None or item.job not in ctx.jobs.jobs:
        return None
    data_filter = ctx.jobs.jobs[item.job].eligibility.data_filter
    if matches_filter(filter_data({**item.data, **result}), data_filter):
        return None
    return (f"classified {llm['risk']} risk, effort {llm['effort']}, which the job's "
            f"data_filter {data_filter} does not admit; held until the filter or the item "
            "changes")

