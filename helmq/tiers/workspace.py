"""Where a tier works on an item: a worktree of the item's repository on its branch."""

from __future__ import annotations

from pathlib import Path

from helmq.domain.item import WorkItem
from helmq.domain.outcome import FailureClass, Outcome
from helmq.repos.worktree import Worktree, prepare_worktree


def no_repo(item: WorkItem) -> Outcome:
    """The failure of an item that names no repository to work in."""
    msg = f"item {item.item_key} names no repository to work in"
    return Outcome.failed(FailureClass.NO_REPO, msg, error=msg)


def item_worktree(item: WorkItem, worktrees_dir: Path) -> Worktree:
    """The item's worktree: a new run starts from the user's current HEAD, a rework round
    builds on its branch."""
    return prepare_worktree(Path(str(item.repo)), worktrees_dir, item.item_key,
                            fresh=item.review_rounds == 0)
