"""classify: rules first. An explicit tier wins, then a script check, then a Claude session."""

from __future__ import annotations

from helmq.domain.item import Outcome, WorkItem
from helmq.domain.model import Stage, Status, Tier
from helmq.errors import UnknownCheckError
from helmq.stages.context import StageContext
from helmq.tiers.script.registry import get_check, match_check

# Tiers this helmq can execute. The LLM tiers arrive with their own executors.
EXECUTABLE_TIERS = frozenset({Tier.SCRIPT})
LLM_TIERS = frozenset({Tier.LLM_CALL, Tier.VARIO, Tier.CLAUDE_SESSION})


def _decide(item: WorkItem) -> tuple[Tier, str | None, str]:
    """(tier, check name, why) from the item's tags and title."""
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
    return Tier.CLAUDE_SESSION, None, "no rule places it: needs an agent"


def classify(item: WorkItem, ctx: StageContext) -> Outcome:
    """Place the item on the cheapest tier the rules allow."""
    try:
        tier, check, why = _decide(item)
    except UnknownCheckError as exc:
        return Outcome(Status.FAILED, "failed", str(exc), failure_class="unknown_check",
                       error=str(exc))
    except ValueError:
        msg = f"item {item.item_key} has an unknown tier {item.data.get('tier')!r}"
        return Outcome(Status.FAILED, "failed", msg, failure_class="bad_item", error=msg)
    result = {"classify": {"tier": tier.value, "check": check, "by": "rules", "reason": why}}
    if tier in EXECUTABLE_TIERS:
        return Outcome(Status.QUEUED, "ok", f"tier {tier}: {why}", stage=Stage.EXECUTE,
                       tier=tier, data=result)
    if tier in LLM_TIERS and not ctx.llm_credentials:
        reason = "no_credentials"
        msg = f"tier {tier} needs ANTHROPIC_API_KEY; waiting until it is set"
    else:
        reason = "tier_unavailable"
        msg = f"tier {tier} has no executor in this helmq version yet; waiting"
    return Outcome(Status.WAITING, "waiting", msg, tier=tier, data=result,
                   waiting_reason=reason, retry_after_seconds=ctx.retry_waiting_seconds)
