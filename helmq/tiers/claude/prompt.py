"""What a Claude session is asked: the item, its plan, and the review's feedback on later rounds."""

from __future__ import annotations

from typing import Any

from helmq.domain.item import WorkItem

RULES = """\
Rules:
- Work only inside the current directory: it is a git worktree on branch {branch}, made for
  this task. Do not commit, push, switch branches or touch anything outside it.
- Keep the change as small as the task allows; do not reformat unrelated code.
- When you are done, answer with a short report: what you changed and why, and anything
  left for a person to decide."""


def _lines(value: Any) -> list[str]:
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, list | tuple):
        return [f"- {v}" for v in value]
    return [str(value)]


def build_prompt(item: WorkItem, *, branch: str) -> str:
    """The first prompt of a session for `item`, to be sent on stdin (never via a shell)."""
    data = item.data
    parts = [f"Task: {item.title}"]
    where = f"{item.source_file}:{item.line}" if item.source_file and item.line else \
        item.source_file
    if where:
        parts.append(f"Found at: {where}")
    for label, key in (("Description", "description"), ("Scope", "scope")):
        body = _lines(data.get(key))
        if body:
            parts += [f"{label}:", *body]
    plan = data.get("classify") or {}
    plan_lines = _lines(plan.get("plan")) or _lines(plan.get("reason"))
    if plan_lines:
        parts += ["Plan from classification:", *plan_lines]
    if item.review_rounds > 0:
        parts += feedback_lines(item)
    parts.append(RULES.format(branch=branch))
    return "\n\n".join(parts) + "\n"


def feedback_lines(item: WorkItem) -> list[str]:
    """The review's verdict on the previous round, for a rework round."""
    review = item.data.get("review") or {}
    body = _lines(review.get("feedback")) + _lines(review.get("reasons"))
    lines = [f"This is round {item.review_rounds + 1}. The branch already holds the previous "
             "round's work; the review asked for changes:"]
    return lines + (body or ["(the review gave no reasons)"])


def resume_prompt(item: WorkItem) -> str:
    """The prompt that continues a session stopped because the user returned."""
    return (f"You were interrupted while working on: {item.title}\n\n"
            "Continue where you left off, then answer with your short report.\n")
