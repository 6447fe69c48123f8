"""The script tier: a registered check's fixer runs in a worktree on the item's branch (or
where the check says it needs none), and a report-only check records what it finds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from helmq.checks.registry import Check, FixResult, Problem, get_check, reports_only, targeted
from helmq.domain.item import WorkItem
from helmq.domain.model import Stage
from helmq.domain.outcome import Outcome
from helmq.repos.worktree import commit_all
from helmq.tiers.context import StageContext
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


def execute(item: WorkItem, ctx: StageContext) -> Outcome:
    """Run the classified check's fixer on the item's branch and commit what it changed."""
    # The check classify chose; without classify (jobs.yaml `stages:`), the item's check: tag.
    check = get_check((item.data.get("classify") or {}).get("check") or item.data.get("check")
                      or "")
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
