"""What the LLM tiers share: the prompt that asks a model for edits, the meter and worktree
an execute starts with, and applying an answer's edits on the item's branch (never
elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from helmq.domain.item import WorkItem
from helmq.domain.model import Source, Stage
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.errors import EditRefused, InputError
from helmq.repos.files import read_text_file, repo_files
from helmq.repos.worktree import Worktree, commit_all
from helmq.tiers.context import StageContext
from helmq.tiers.edits import FileEdit, apply_edits
from helmq.tiers.workspace import item_worktree, no_repo

if TYPE_CHECKING:
    from helmq.llm.service import Meter

MAX_FILE_CHARS = 40_000
MAX_LISTED_FILES = 200

SYSTEM = """\
You are a careful maintainer working through one backlog item of a code base. You get the
item, a plan, the files that matter, and the list of files in the repository. Make the
smallest change that settles the item, as edits:
- `search` must be an exact, unique excerpt of the current file (include enough lines to
  make it unique); `replace` is its new text. Omit `search` to write a whole (new) file.
- Paths are repo-relative with forward slashes. Never touch files outside the repository,
  `.git`, or anything the item does not need.
- Keep the file's style. Remove the TODO/FIXME comment the item came from when the change
  settles it.
If the item asks for information rather than a change, or cannot be settled safely with
edits to the files you see, return no edits and explain in `report`.
Answer with JSON only, matching the schema.
"""


class Change(BaseModel):
    """One model's answer for the llm_call tier."""

    summary: str = Field(max_length=2000)
    edits: list[FileEdit] = Field(default_factory=list)
    report: str | None = Field(default=None, max_length=20_000)


def _files_for(item: WorkItem, root: Path) -> tuple[dict[str, str], list[str]]:
    """The texts of the files the item is about, and the repo's file list (capped)."""
    try:
        listing = [p.as_posix() for p in repo_files(root)]
    except InputError:
        listing = []
    wanted: list[str] = []
    source = item.source_file
    if source and item.data.get("source") != Source.TODO_MD:
        wanted.append(source)
    words = f"{item.title} {item.data.get('description') or ''} {item.data.get('scope') or ''}"
    wanted += [p for p in listing if p in words and p not in wanted][:3]
    texts = {}
    for rel in wanted:
        try:
            text = read_text_file(root / rel, max_bytes=MAX_FILE_CHARS * 4)
        except InputError:
            continue
        texts[rel] = text[:MAX_FILE_CHARS]
    return texts, listing[:MAX_LISTED_FILES]


def build_prompt(item: WorkItem, root: Path) -> str:
    """The item, its plan, review feedback from an earlier round, and the files to edit."""
    data = item.data
    plan = (data.get("classify") or {}).get("plan")
    facts = {
        "title": item.title,
        "description": data.get("description") or None,
        "scope": data.get("scope") or None,
        "found in": f"{item.source_file}:{item.line}" if item.source_file else None,
        "plan": plan,
    }
    parts = ["Item:", json.dumps({k: v for k, v in facts.items() if v}, ensure_ascii=False,
                                 indent=1)]
    feedback = (data.get("review") or {}) if item.review_rounds else {}
    if feedback.get("feedback") or feedback.get("reasons"):
        parts += ["", f"An earlier attempt (round {item.review_rounds}) was sent back by "
                  "review:", feedback.get("feedback") or "; ".join(feedback["reasons"])]
    texts, listing = _files_for(item, root)
    for rel, text in texts.items():
        parts += ["", f"=== {rel} ===", text]
    parts += ["", "Files in the repository:", "\n".join(listing)]
    return "\n".join(parts)


def apply_answer(item: WorkItem, wt: Worktree, answer: Change, meter: Meter,
                 extra: dict) -> Outcome:
    """Apply `answer`'s edits on the item's branch and hand the item to review."""
    result = {"tier": str(item.tier), "summary": answer.summary, "report": answer.report,
              "calls": meter.calls, "models": meter.models, "cost_usd": meter.cost_usd,
              "base_commit": wt.base_commit, "worktree": str(wt.path), **extra}
    # A rework round builds on the branch: review judges everything the rounds edited.
    earlier = ((item.data.get("execute") or {}).get("scope") or []) if item.review_rounds else []
    if not answer.edits:
        result |= {"files": [], "commit": None, "scope": earlier}
        return Outcome.next(Stage.REVIEW, f"{item.tier}: no edits; a report for review",
                            data={"execute": result}, cost_usd=meter.cost_usd)
    try:
        files = apply_edits(wt.path, answer.edits)  # checks every edit before writing any
    except EditRefused as exc:
        return Outcome.failed(FailureClass(exc.failure_class), str(exc), error=str(exc),
                              cost_usd=meter.cost_usd,
                              data={"execute": result | {"refused": str(exc)}})
    commit = commit_all(wt, f"helmq: {item.title}\n\n{answer.summary}\n\nhelmq item "
                            f"{item.item_key}")
    result |= {"files": files, "commit": commit, "scope": sorted(set(earlier) | set(files))}
    return Outcome.next(Stage.REVIEW, f"{item.tier}: {len(files)} file(s) edited",
                        branch=wt.branch, data={"execute": result}, cost_usd=meter.cost_usd)


def start(item: WorkItem, ctx: StageContext) -> tuple[Meter, Worktree] | Outcome:
    """The meter and the worktree (a new run from the user's HEAD, a rework round on its
    branch) for an LLM tier's execute, or why it cannot start."""
    if not item.repo:
        return no_repo(item)
    if ctx.llm is None:
        return Outcome.waiting(WaitReason.TIER_UNAVAILABLE, "no LLM service in this process",
                               retry_after=ctx.retry_waiting_seconds)
    wt = item_worktree(item, ctx.worktrees_dir)
    return ctx.llm.meter(item, Stage.EXECUTE.value, str(item.tier)), wt
