"""Git worktrees on `helmq/<item_key>` branches: where tiers work, away from the user's checkout."""

from __future__ import annotations

import functools
import posixpath
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from helmq.domain.fingerprint import is_safe_key
from helmq.errors import WorktreeError
from helmq.repos.proc import run_bounded

BRANCH_PREFIX = "helmq/"
GIT_TIMEOUT = 300.0
"""Seconds one git command may take; a hung git (a filter, a lock, a network mount) fails
the stage instead of blocking its worker forever."""
_IDENTITY = {
    "GIT_AUTHOR_NAME": "helmq",
    "GIT_AUTHOR_EMAIL": "helmq@localhost",
    "GIT_COMMITTER_NAME": "helmq",
    "GIT_COMMITTER_EMAIL": "helmq@localhost",
}
# Set by git hooks and wrappers; inherited, they would point every command below at
# another repository or index than the one named by cwd (possibly the user's own).
_REDIRECTING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
# Hooks and commit signing are the user's interactive policy: they may prompt, take minutes
# or act on other checkouts. helmq's branches are gated by its own review instead.
_UNATTENDED = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")
# The key becomes both a branch name and a directory name: no separators, no leading dash.
# A commit id as helmq records it; anything else (say `--output=FILE`) never reaches git.
_SHA = re.compile(r"[0-9a-f]{7,64}")


@dataclass(frozen=True)
class Worktree:
    """A checked-out `helmq/<item_key>` branch and the commit its reviews diff against."""

    path: Path
    """Where the item's repository directory is checked out on the branch."""
    branch: str
    base_commit: str
    """The fork point of the branch from the user's HEAD; reviews diff against it."""
    repo: Path
    """The user's repository directory (the checkout, or a directory inside it)."""


def git_argv(*args: str) -> list[str]:
    """The argv of a helmq git command: this repo only, never a prompt, a fixed author.

    env(1) unsets the redirecting variables and sets the rest in the child alone, so helmq
    never copies its own environment (which holds secrets) to hand it on."""
    unset = [arg for name in _REDIRECTING_ENV for arg in ("-u", name)]
    assign = [f"{k}={v}" for k, v in {**_IDENTITY, "GIT_TERMINAL_PROMPT": "0"}.items()]
    return ["env", *unset, *assign, "git", *args]


def _command(args: Sequence[str], limit: int = 200) -> str:
    shown = " ".join(["git", *args])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _git(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return run_bounded(git_argv(*_UNATTENDED, *args), cwd, timeout=GIT_TIMEOUT, stdin=stdin)
    except subprocess.TimeoutExpired:
        raise WorktreeError(
            f"{cwd}: `{_command(args)}` did not finish within {GIT_TIMEOUT:g} s and was "
            "killed; check the repository for a hung filter, hook or lock"
        ) from None
    except OSError as exc:
        if not cwd.is_dir():
            raise WorktreeError(f"{cwd}: no such directory; check the repo path") from None
        raise WorktreeError(f"cannot run git ({exc}); install git or put it on PATH") from exc


def _git_out(cwd: Path, *args: str, what: str) -> str:
    proc = _git(cwd, *args)
    if proc.returncode != 0:
        raise WorktreeError(f"{cwd}: {what} failed: {_stderr(proc)}")
    return proc.stdout.strip()


def _stderr(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout or "").strip()
    return text[-2000:] or f"git exited {proc.returncode}"


def _locate(repo: Path) -> tuple[Path, PurePosixPath]:
    """The top directory of the git work tree holding `repo`, and `repo`'s path inside it."""
    repo = repo.expanduser().resolve()
    proc = _git(repo, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise WorktreeError(
            f"{repo}: not a git repository ({_stderr(proc)}); run `git init` there "
            "or point helmq at a git checkout"
        )
    top = Path(proc.stdout.strip()).resolve()
    return top, PurePosixPath(repo.relative_to(top).as_posix())


def _head(repo: Path) -> str:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if proc.returncode != 0:
        raise WorktreeError(f"{repo}: the repository has no commits yet; make a first commit")
    return proc.stdout.strip()


def _registered_path(repo: Path, ref: str) -> Path | None:
    """Where git has `ref` checked out, if anywhere (the path may no longer exist)."""
    listing = _git_out(repo, "worktree", "list", "--porcelain", what="git worktree list")
    path: Path | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            path = Path(line.removeprefix("worktree "))
        elif line == f"branch {ref}":
            return path
    return None


def _set_aside(top: Path, branch: str, ref: str, head: str) -> None:
    """Make way for a fresh `branch`: drop it if the user has its work, else rename it."""
    tip = _git_out(top, "rev-parse", "--verify", f"{ref}^{{commit}}", what=f"git rev-parse {ref}")
    merged = _git(top, "merge-base", "--is-ancestor", tip, head)
    if merged.returncode not in (0, 1):
        raise WorktreeError(f"{top}: git merge-base --is-ancestor failed: {_stderr(merged)}")
    if merged.returncode == 0:
        # Everything on the branch is in the user's HEAD already: nothing to keep.
        _git_out(top, "branch", "-D", branch, what=f"git branch -D {branch}")
        return
    # Unmerged work is kept under a name of its own; an existing branch is never replaced.
    stem = f"{branch}-prev-{tip[:8]}"
    kept, n = stem, 1
    while _git(top, "show-ref", "--verify", "--quiet", f"refs/heads/{kept}").returncode == 0:
        n += 1
        kept = f"{stem}-{n}"
    _git_out(top, "branch", "-m", branch, kept, what=f"git branch -m {branch} {kept}")


def prepare_worktree(
    repo: Path, worktrees_dir: Path, item_key: str, *, fresh: bool = False
) -> Worktree:
    """Check out branch `helmq/<item_key>` in `worktrees_dir/<item_key>`, creating or reusing it.

    `fresh` starts the branch anew from the user's HEAD: a new run must see the code as it is
    now, not as it was when the branch was made. The old branch is deleted when the user's
    HEAD already contains it, else kept as `helmq/<item_key>-prev-<sha>`.
    """
    if not is_safe_key(item_key):
        raise WorktreeError(
            f"item key {item_key!r} cannot name a branch and a directory; "
            "use letters, digits, '.', '_' and '-'"
        )
    top, inside = _locate(repo)
    head = _head(top)
    target = (worktrees_dir.expanduser() / item_key).resolve()
    if target.is_relative_to(top):
        # A worktree inside the checkout would show up in the user's `git status`.
        raise WorktreeError(
            f"{target}: worktrees must live outside the repository {top}; "
            "set HELMQ_STATE_DIR to a directory outside it"
        )
    branch = BRANCH_PREFIX + item_key
    ref = f"refs/heads/{branch}"
    exists = _git(top, "show-ref", "--verify", "--quiet", ref).returncode == 0
    checked_out: Path | None = None
    if exists:
        checked_out = _registered_path(top, ref)
        if checked_out is not None and checked_out.resolve() != target and checked_out.exists():
            raise WorktreeError(
                f"{top}: branch {branch} is checked out at {checked_out}; switch that "
                f"checkout to another branch or run `git worktree remove {checked_out}`"
            )
        if fresh:
            if checked_out is not None and checked_out.exists():
                # helmq's own worktree of the branch (the check above): its state goes too.
                _git_out(
                    top, "worktree", "remove", "--force", "--", str(target),
                    what="git worktree remove",
                )
            elif checked_out is not None:
                _git_out(top, "worktree", "prune", what="git worktree prune")
            _set_aside(top, branch, ref, head)
            exists = False
    if not exists:
        target.parent.mkdir(parents=True, exist_ok=True)
        _git_out(
            top, "worktree", "add", "-b", branch, "--", str(target), head, what="git worktree add"
        )
    elif checked_out is None or not target.is_dir():
        # A worktree directory deleted by hand leaves a stale registration behind.
        _git_out(top, "worktree", "prune", what="git worktree prune")
        target.parent.mkdir(parents=True, exist_ok=True)
        _git_out(top, "worktree", "add", "--", str(target), branch, what="git worktree add")
    base = _git_out(top, "merge-base", ref, head, what=f"git merge-base {branch} HEAD")
    # Discovery may name a directory inside a checkout; the item's paths are relative to it.
    return Worktree(path=target / inside, branch=branch, base_commit=base, repo=top / inside)


def commit_all(wt: Worktree, message: str) -> str | None:
    """Commit every change in the worktree to its branch; the new sha, or None if unchanged."""
    _git_out(wt.path, "add", "-A", what="git add")
    if _git(wt.path, "diff", "--cached", "--quiet").returncode == 0:
        return None
    # Through stdin, no item text lands on the command line; "whitespace" cleanup keeps
    # lines starting with "#", which the default would drop as comments.
    proc = _git(wt.path, "commit", "--quiet", "--cleanup=whitespace", "--file=-", stdin=message)
    if proc.returncode != 0:
        raise WorktreeError(f"{wt.path}: git commit failed: {_stderr(proc)}")
    return _git_out(wt.path, "rev-parse", "HEAD", what="git rev-parse HEAD")


@functools.cache
def _end_of_options() -> tuple[str, ...]:
    """`--end-of-options` where git knows it (2.24 and later), else nothing."""
    try:
        out = run_bounded(git_argv("version"), None, timeout=GIT_TIMEOUT).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found = re.search(r"(\d+)\.(\d+)", out)
    return ("--end-of-options",) if found and tuple(map(int, found.groups())) >= (2, 24) else ()


def _diff(wt: Worktree, *options: str) -> str:
    # base_commit may come from stored item data; it must be a commit id, never an option.
    if not _SHA.fullmatch(wt.base_commit):
        raise WorktreeError(
            f"{wt.repo}: base commit {wt.base_commit[:80]!r} of {wt.branch} is not a commit id "
            "(7 to 64 lowercase hex digits); run the item again to record a new one"
        )
    tip = f"refs/heads/{wt.branch}"
    proc = _git(wt.repo, "diff", *options, *_end_of_options(), wt.base_commit, tip, "--")
    if proc.returncode != 0:
        raise WorktreeError(f"{wt.repo}: git diff for {wt.branch} failed: {_stderr(proc)}")
    return proc.stdout


def branch_diff(wt: Worktree) -> str:
    """The unified diff from the worktree's base commit to its branch tip."""
    # External diff drivers and textconv filters would run programs and reshape the output.
    return _diff(wt, "--no-color", "--no-ext-diff", "--no-textconv")


def changed_files(wt: Worktree) -> list[str]:
    """Paths changed from base to tip, relative to `wt.repo`; a rename counts as both its paths.

    Changes outside `wt.repo` (when it is a directory inside a checkout) start with `../`.
    """
    inside = _locate(wt.repo)[1].as_posix()
    names = _diff(wt, "--name-only", "--no-renames", "-z").split("\0")
    return sorted({posixpath.relpath(name, inside) for name in names if name})


def remove_worktree(wt: Worktree) -> None:
    """Remove the worktree directory and its registration; the branch stays."""
    inside = _locate(wt.repo)[1]
    checkout = Path(*wt.path.parts[: len(wt.path.parts) - len(inside.parts)])
    if checkout.exists():
        _git_out(
            wt.repo,
            "worktree",
            "remove",
            "--force",
            "--",
            str(checkout),
            what="git worktree remove",
        )
    else:
        _git_out(wt.repo, "worktree", "prune", what="git worktree prune")
