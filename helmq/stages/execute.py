"""execute: run the item on its tier. The script tier fixes in a worktree on the item's branch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from helmq.checks.registry import Check, FixResult, Problem, get_check, reports_only, targeted
from helmq.domain.item import WorkItem
from helmq.domain.model import Stage, Tier
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.errors import BudgetExceeded, HelmqError
from helmq.llm.ask import failure_or_raise
from helmq.llm.budget import Budget, Reservation
from helmq.repos.worktree import commit_all
from helmq.tiers.context import StageContext
from helmq.tiers.llm_call import EXECUTORS as LLM_EXECUTORS
from helmq.tiers.workspace import item_worktree, no_repo


def item_problems(check: Check, root: Path, item: WorkItem) -> list[Problem]:
    """What the check finds under `root` that the item is about: the one problem its
    `problem` names (doc_health items), or everything (items that name no problem)."""
    return targeted(check.detect(root), item.data.get("problem"))


def _fix(check: Check, root: Path, item: WorkItem, problems: list[Problem]) -> FixResult:
    # Only an item about one problem narrows the fixer; checks without `only` still work.
    if item.data.get("problem") is None:
        return check.fix(root)
    return check.fix(root, only=problems)


def _report_problems(check: Check, item: WorkItem) -> Outcome:
    """Record what a report-only check finds for the item; nothing is changed anywhere."""
    if not item.repo:
        return no_repo(item)
    problems = item_problems(check, Path(item.repo), item)
    result = {"check": check.name, "problems": len(problems), "fixed": 0,
              "unfixed": [asdict(p) for p in problems], "notes": [], "scope": [],
              "reports_only": True}
    return Outcome.next(Stage.REVIEW, f"{check.name}: {len(problems)} problem(s) to report",
                        data={"execute": result})


def execute_script(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the classified check's fixer on the item's branch and commit what it changed."""
    check = get_check(item.data["classify"]["check"])
    if reports_only(check):
        return _report_problems(check, item)
    if not check.needs_worktree:
        root = Path(item.repo) if item.repo else ctx.worktrees_dir
        problems = item_problems(check, root, item)
        fix = _fix(check, root, item, problems) if problems else None
        result = {"check": check.name, "problems": len(problems),
                  "fixed": fix.fixed if fix else 0, "unfixed": [], "scope": None}
        return Outcome.next(Stage.REVIEW, f"{check.name}: {len(problems)} problem(s)",
                            data={"execute": result})
    if not item.repo:
        return no_repo(item)
    wt = item_worktree(item, ctx.worktrees_dir)
    problems = item_problems(check, wt.path, item)
    fix = _fix(check, wt.path, item, problems) if problems else None
    commit = commit_all(wt, f"helmq: {check.name}: {item.title}\n\nhelmq item {item.item_key}")
    scope = check.scope(problems) if problems else set()
    result = {
        "check": check.name,
        "problems": len(problems),
        "fixed": fix.fixed if fix else 0,
        "unfixed": [asdict(p) for p in fix.unfixed] if fix else [],
        "notes": list(fix.notes) if fix else [],
        "scope": sorted(scope) if scope is not None else None,
        "commit": commit,
        "base_commit": wt.base_commit,
        "worktree": str(wt.path),
    }
    msg = (f"{check.name}: {len(problems)} problem(s), {result['fixed']} fixed"
           + (f", committed {commit[:10]}" if commit else ", nothing to commit"))
    return Outcome.next(Stage.REVIEW, msg, branch=wt.branch, data={"execute": result})


def execute_claude_session(item: WorkItem, ctx: StageContext) -> Outcome:
    """A headless Claude Code session in the item's worktree (helmq.tiers.claude.session).

    The session may spend what the item's budget has left, at most its own ceiling: that is
    reserved against the daily and per-item budgets before the CLI starts, passed to it as
    `--max-budget-usd`, and its real cost committed after (the ceiling when the cost is
    unknown). A session that never started is charged nothing."""
    if ctx.claude is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               "the Claude session tier is not set up in this process; waiting",
                               retry_after=ctx.retry_waiting_seconds)
    from helmq.tiers.claude.session import execute_claude

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


EXECUTORS = {Tier.SCRIPT: execute_script, Tier.CLAUDE_SESSION: execute_claude_session,
             **LLM_EXECUTORS}


Handler = Callable[[WorkItem, StageContext], Outcome]


def job_handler(item: WorkItem, ctx: StageContext) -> Handler | None:
    """The handler jobs.yaml names for an external job's items (`handler:`); None for the
    items of internal jobs, which the built-in tiers execute."""
    job = ctx.jobs.jobs.get(item.job) if ctx.jobs is not None else None
    if job is None or job.internal or not job.handler:
        return None
    module, _, name = job.handler.rpartition(".")
    return getattr(importlib.import_module(module), name)


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the item with its job's handler, or else on the tier classify chose."""
    try:
        handler = job_handler(item, ctx)
    except (ImportError, AttributeError) as exc:
        msg = f"job {item.job}: cannot load its handler: {exc}; fix `handler` in jobs.yaml"
        return Outcome.failed(FailureClass.BAD_HANDLER, msg, error=msg)
    if handler is not None:
        return handler(item, ctx)
    executor = EXECUTORS.get(item.tier) if item.tier else None
    if executor is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE,
                               f"tier {item.tier} has no executor in this helmq version yet; "
                               "waiting", retry_after=ctx.retry_waiting_seconds)
    return executor(item, ctx)
