"""review: proof before opinion. The detector must not fire; the diff must stay in scope."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from helmq.checks.registry import Check, Problem, get_check, reports_only
from helmq.domain.item import WorkItem
from helmq.domain.model import Source, Tier
from helmq.domain.outcome import FailureClass, Outcome
from helmq.grammar.todo_tick import tick_todo
from helmq.repos.worktree import Worktree, branch_diff, changed_files, commit_all, prepare_worktree
from helmq.stages.llm_review import review_llm
from helmq.stages.report import write_report
from helmq.tiers.context import StageContext
from helmq.tiers.script import item_problems

LLM_REVIEWED = frozenset({Tier.LLM_CALL, Tier.VARIO, Tier.CLAUDE_SESSION})
"""Tiers whose result a model judges after the proofs (a script check's proof is enough)."""


def _tick_source(item: WorkItem, wt: Worktree) -> tuple[str | None, str | None]:
    """Mark the item done in its TODO file on the branch.

    The commit sha if the file changed, and why the tick was skipped if it was.
    """
    if item.data.get("source") != Source.TODO_MD or item.recurrence or not item.source_file:
        return None, None
    path = wt.path / item.source_file
    # A symlink, an absolute path or `..` would have the tick rewrite a file outside the
    # worktree: the user's own files, or anything else the worker may write.
    try:
        inside = not path.is_symlink() and path.resolve().is_relative_to(wt.path.resolve())
    except (OSError, RuntimeError):  # a symlink loop on the way
        inside = False
    if not inside:
        return None, f"not ticked: {item.source_file} is a symlink or leads outside the worktree"
    if not path.is_file():
        return None, None
    raw = path.read_bytes().decode("utf-8")
    ticked = tick_todo(raw, item.line or 0, item.title)
    if ticked is None:
        return None, None
    path.write_bytes(ticked.encode("utf-8"))
    return commit_all(wt, f"helmq: mark done: {item.title}\n\nhelmq item {item.item_key}"), None


def _review_report(item: WorkItem, check: Check, ctx: StageContext) -> Outcome:
    """Done either way: the problem is gone, or a report tells a person what and where."""
    if not item.repo:
        msg = f"item {item.item_key} names no repository to review in"
        return Outcome.failed(FailureClass.NO_REPO, msg, error=msg)
    remaining = item_problems(check, Path(item.repo), item)
    if not remaining:
        verdict = {"verdict": "accept", "reasons": [f"{check.name} no longer fires"]}
        report = write_report(ctx.reports_dir, item, verdict, diff="")
        return Outcome.done(f"accepted: {check.name} no longer fires", data={"review": verdict},
                            report_path=str(report))
    return _reported(item, ctx, remaining, f"{check.name} reports {len(remaining)} problem(s) "
                     "for a person to settle; this check changes no file")


def _reported(item: WorkItem, ctx: StageContext, remaining: list[Problem],
              reason: str) -> Outcome:
    """Done with a report that tells a person what is left and where."""
    verdict = {"verdict": "reported", "reasons": [reason]}
    report = write_report(ctx.reports_dir, item, verdict, diff="", problems=remaining)
    return Outcome.done(f"reported: {remaining[0].message}", label="reported",
                        data={"review": verdict}, report_path=str(report))


def _settle_llm(ctx: StageContext, item: WorkItem, wt: Worktree | None, verdict: dict,
                diff: str) -> Outcome:
    """Settle an item the LLM review accepted: tick its TODO entry on the branch, report."""
    reasons = list(verdict.get("reasons") or [])
    if wt is not None:
        ticked, skipped = _tick_source(item, wt)
        if ticked:
            reasons.append(f"ticked in {item.source_file}")
        if skipped:
            reasons.append(skipped)
        diff = branch_diff(wt)
    verdict = {**verdict, "reasons": reasons}
    report = write_report(ctx.reports_dir, item, verdict, diff=diff)
    return Outcome.done("accepted: " + "; ".join(reasons), data={"review": verdict},
                        branch=wt.branch if wt else None, report_path=str(report))


def review(item: WorkItem, ctx: StageContext) -> Outcome:
    """Accept, report, send back for another round, or fail the item's execution."""
    if item.tier in LLM_REVIEWED:
        return review_llm(item, ctx, on_accept=partial(_settle_llm, ctx))
    done = item.data.get("execute") or {}
    check = get_check(done.get("check") or item.data["classify"]["check"])
    if reports_only(check):
        return _review_report(item, check, ctx)
    if not check.needs_worktree:
        remaining = item_problems(check, Path(item.repo) if item.repo else ctx.worktrees_dir,
                                  item)
        if remaining:
            return Outcome.failed(FailureClass.UNFIXABLE, f"{check.name} still fires")
        verdict = {"verdict": "accept", "reasons": [f"{check.name} no longer fires"]}
        report = write_report(ctx.reports_dir, item, verdict, diff="")
        return Outcome.done(f"accepted: {check.name} no longer fires", data={"review": verdict},
                            report_path=str(report))
    if not item.repo:
        msg = f"item {item.item_key} names no repository to review in"
        return Outcome.failed(FailureClass.NO_REPO, msg, error=msg)
    wt = prepare_worktree(Path(item.repo), ctx.worktrees_dir, item.item_key)
    remaining = item_problems(check, wt.path, item)
    if remaining:
        listed = "; ".join(f"{p.file}:{p.line}: {p.message}" for p in remaining[:10])
        verdict = {"verdict": "needs_work", "reasons": [f"{check.name} still fires: {listed}"]}
        if done.get("fixed"):
            return Outcome.needs_work(verdict["reasons"][0], data={"review": verdict})
        if item.data.get("source") == Source.DOC_HEALTH:
            # A doc_health item is the problem itself: one the fixer cannot mend (a link to
            # a file that never existed) goes to a person, as ports and env vars do.
            return _reported(item, ctx, remaining, f"{check.name} cannot fix this; left for "
                             "a person to settle")
        verdict["verdict"] = "failed"
        return Outcome.failed(FailureClass.UNFIXABLE, f"{check.name} cannot fix: {listed}",
                              data={"review": verdict})
    scope = done.get("scope")
    changed = changed_files(wt)
    if scope is not None:
        outside = sorted(set(changed) - set(scope) - {item.source_file})
        if outside:
            verdict = {"verdict": "failed",
                       "reasons": [f"diff touches files outside its scope: {', '.join(outside)}"]}
            return Outcome.failed(FailureClass.OUT_OF_SCOPE, verdict["reasons"][0],
                                  data={"review": verdict})
    reasons = [f"{check.name} no longer fires on {wt.branch}"]
    if changed:
        reasons.append(f"diff stays in scope ({len(changed)} file(s))")
    ticked, skipped = _tick_source(item, wt)
    if ticked:
        reasons.append(f"ticked in {item.source_file}")
    if skipped:
        reasons.append(skipped)
    verdict = {"verdict": "accept", "reasons": reasons}
    report = write_report(ctx.reports_dir, item, verdict, diff=branch_diff(wt))
    return Outcome.done("accepted: " + "; ".join(reasons), data={"review": verdict},
                        branch=wt.branch, report_path=str(report))
