"""Worktrees on `helmq/<key>` branches, against real git repositories made per test."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helmq.errors import WorktreeError
from helmq.repos import worktree
from helmq.repos.worktree import (
    branch_diff,
    changed_files,
    commit_all,
    prepare_worktree,
    remove_worktree,
)

USER = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git as the test's user, isolated from any GIT_DIR a test sets for helmq."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_INDEX_FILE")}
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env={**env, **USER},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A repository on branch `main` with one commit of `files`."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"README.md": "# Project\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def snapshot(repo: Path) -> dict[str, object]:
    """Everything of the user's checkout that helmq must leave as it found it."""
    files = {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    return {
        "files": files,
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "index": git(repo, "ls-files", "--stage"),
    }


@pytest.fixture
def hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system config, and a global config a careless helmq would trip over."""
    config = tmp_path / "gitconfig"
    # No identity, signing required: a commit only works if helmq brings its own
    # identity and turns signing off for its branch.
    config.write_text("[user]\n\tuseConfigOnly = true\n[commit]\n\tgpgsign = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


pytestmark = pytest.mark.usefixtures("hermetic_git")


def test_fix_committed_on_branch_leaves_user_checkout_untouched(tmp_path: Path) -> None:
    # Given a clean repository
    repo = make_repo(tmp_path / "repo", {"README.md": "# Project\n", "src/app.py": "x = 1\n"})
    before = snapshot(repo)
    head = before["head"]
    # When helmq prepares a worktree, edits a file there and commits
    wt = prepare_worktree(repo, tmp_path / "state" / "worktrees", "fix-readme")
    (wt.path / "README.md").write_text("# Project\n\nFixed.\n")
    sha = commit_all(wt, "Fix the readme")
    # Then the user's checkout is byte for byte what it was, and clean
    assert snapshot(repo) == before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert (repo / "README.md").read_text() == "# Project\n"
    # And the fix is on the branch, authored by helmq, on top of the user's HEAD
    assert wt.branch == "helmq/fix-readme"
    assert wt.path == (tmp_path / "state" / "worktrees" / "fix-readme").resolve()
    assert wt.repo == repo.resolve()
    assert wt.base_commit == str(head).strip()
    assert sha == git(repo, "rev-parse", "refs/heads/helmq/fix-readme").strip()
    assert (
        git(repo, "log", "-1", "--format=%an <%ae>|%cn", sha) == "helmq <helmq@localhost>|helmq\n"
    )
    assert changed_files(wt) == ["README.md"]
    assert "+Fixed." in branch_diff(wt)
    assert "src/app.py" not in branch_diff(wt)


def test_user_work_in_progress_survives(tmp_path: Path) -> None:
    # Given a user mid-change: a staged edit, an unstaged edit and an untracked file
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "b.txt": "b\n"})
    (repo / "a.txt").write_text("a staged\n")
    git(repo, "add", "a.txt")
    (repo / "b.txt").write_text("b unstaged\n")
    (repo / "notes.txt").write_text("mine\n")
    before = snapshot(repo)
    # When helmq works on a branch
    wt = prepare_worktree(repo, tmp_path / "wts", "item-1")
    (wt.path / "b.txt").write_text("b by helmq\n")
    (wt.path / "new.txt").write_text("new\n")
    assert commit_all(wt, "Work") is not None
    # Then none of the user's state moved, and the branch started from the committed HEAD
    assert snapshot(repo) == before
    assert (wt.path / "a.txt").read_text() == "a\n"
    assert changed_files(wt) == ["b.txt", "new.txt"]


def test_user_hooks_do_not_run_for_helmq(tmp_path: Path) -> None:
    # Given hooks in the user's repository that would write into the user's checkout or refuse
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    for name, body in [
        ("post-checkout", f"echo checkout >> '{repo}/hooked.txt'"),
        ("pre-commit", "exit 1"),
        ("post-commit", f"echo commit >> '{repo}/hooked.txt'"),
    ]:
        (hooks / name).write_text(f"#!/bin/sh\n{body}\n")
        (hooks / name).chmod(0o755)
    before = snapshot(repo)
    # When helmq checks out and commits on its branch
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("changed\n")
    # Then no hook ran: the commit went through and nothing appeared in the checkout
    assert commit_all(wt, "Change") is not None
    assert not (repo / "hooked.txt").exists()
    assert snapshot(repo) == before


def test_second_round_reuses_branch_and_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = prepare_worktree(repo, tmp_path / "wts", "k")
    (first.path / "README.md").write_text("round one\n")
    tip = commit_all(first, "Round one")
    (first.path / "scratch.txt").write_text("left by round one\n")

    second = prepare_worktree(repo, tmp_path / "wts", "k")

    assert second == first
    assert git(second.path, "rev-parse", "HEAD").strip() == tip
    # The same directory, not a fresh checkout: round one's untracked file is still there.
    assert (second.path / "scratch.txt").read_text() == "left by round one\n"


def test_worktree_deleted_by_hand_is_recreated_on_the_existing_branch(tmp_path: Path) -> None:
    # Given a branch with a commit whose worktree directory was deleted without git
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("kept on the branch\n")
    tip = commit_all(wt, "Keep")
    shutil.rmtree(wt.path)
    # When the next round prepares it again
    again = prepare_worktree(repo, tmp_path / "wts", "k")
    # Then the branch's work is checked out again, and git lists one worktree for it
    assert again.path == wt.path
    assert (again.path / "README.md").read_text() == "kept on the branch\n"
    assert git(again.path, "rev-parse", "HEAD").strip() == tip
    assert git(repo, "worktree", "list", "--porcelain").count("branch refs/heads/helmq/k") == 1


def test_base_commit_stays_the_fork_point_when_the_user_moves_on(tmp_path: Path) -> None:
    # Given a branch made at the user's first commit
    repo = make_repo(tmp_path / "repo")
    fork = git(repo, "rev-parse", "HEAD").strip()
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("helmq\n")
    commit_all(wt, "helmq change")
    # When the user commits something else on main
    (repo / "user.txt").write_text("user\n")
    git(repo, "add", "user.txt")
    git(repo, "commit", "-q", "-m", "user change")
    again = prepare_worktree(repo, tmp_path / "wts", "k")
    # Then reviews still diff the branch against where it forked, not against the new HEAD
    assert again.base_commit == fork
    assert changed_files(again) == ["README.md"]
    assert "user.txt" not in branch_diff(again)


def test_commit_all_without_changes_returns_none(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    assert commit_all(wt, "nothing") is None
    assert git(repo, "rev-parse", "refs/heads/helmq/k").strip() == wt.base_commit


def test_commit_message_is_kept_verbatim_and_never_read_as_options(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("changed\n")
    message = "--amend #12 fix: `rm -rf` $(HOME)\n\n# not a comment"
    sha = commit_all(wt, message)
    assert sha is not None
    assert git(repo, "log", "-1", "--format=%B", sha).rstrip("\n") == message
    assert git(repo, "rev-list", "--count", sha) == "2\n"


def test_renames_count_as_both_paths(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"docs/old name.md": "# Guide\n" * 20})
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "guides").mkdir()
    (wt.path / "docs" / "old name.md").rename(wt.path / "guides" / "new name.md")
    commit_all(wt, "Move the guide")
    assert changed_files(wt) == ["docs/old name.md", "guides/new name.md"]


def test_remove_worktree_keeps_the_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("keep me\n")
    tip = commit_all(wt, "Keep")
    remove_worktree(wt)
    assert not wt.path.exists()
    assert str(wt.path) not in git(repo, "worktree", "list", "--porcelain")
    assert git(repo, "rev-parse", "refs/heads/helmq/k").strip() == tip
    # Removing what is already gone only cleans git's records.
    remove_worktree(wt)


def test_inherited_git_dir_cannot_redirect_helmq_to_the_user_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given helmq started from a git hook, with GIT_DIR naming the user's repository
    repo = make_repo(tmp_path / "repo")
    before = snapshot(repo)
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git" / "index"))
    # When helmq commits in its worktree
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "added.txt").write_text("x\n")
    sha = commit_all(wt, "Add")
    # Then the commit landed on the helmq branch, not in the user's index or branch
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "refs/heads/helmq/k").strip() == sha
    assert changed_files(wt) == ["added.txt"]


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorktreeError, match="not a git repository.*git init") as info:
        prepare_worktree(plain, tmp_path / "wts", "k")
    assert str(plain) in str(info.value)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(WorktreeError, match="no such directory"):
        prepare_worktree(tmp_path / "absent", tmp_path / "wts", "k")


def test_repository_without_commits(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    with pytest.raises(WorktreeError, match="no commits yet; make a first commit"):
        prepare_worktree(repo, tmp_path / "wts", "k")
    assert not (tmp_path / "wts").exists()


def test_a_directory_inside_a_checkout_works_like_a_repository(tmp_path: Path) -> None:
    # Given discovery pointed at a package inside a larger checkout
    repo = make_repo(tmp_path / "mono", {"README.md": "top\n", "pkg/mod.py": "x = 1\n"})
    before = snapshot(repo)
    # When helmq prepares that package's worktree and changes a file in and one outside it
    wt = prepare_worktree(repo / "pkg", tmp_path / "wts", "k")
    (wt.path / "mod.py").write_text("x = 2\n")
    (wt.path / ".." / "README.md").write_text("changed\n")
    commit_all(wt, "Edit")
    # Then paths are relative to the package, and the change outside it is plain to see
    assert wt.path == (tmp_path / "wts" / "k" / "pkg").resolve()
    assert wt.repo == (repo / "pkg").resolve()
    assert changed_files(wt) == ["../README.md", "mod.py"]
    assert snapshot(repo) == before
    remove_worktree(wt)
    assert not (tmp_path / "wts" / "k").exists()


@pytest.mark.parametrize("key", ["../escape", "-x", "a/b", "x.lock", "a..b", "", "a b"])
def test_unsafe_item_keys_are_refused(tmp_path: Path, key: str) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(WorktreeError, match="cannot name a branch"):
        prepare_worktree(repo, tmp_path / "wts", key)
    assert git(repo, "branch", "--list", "helmq/*") == ""


def test_worktrees_inside_the_repository_are_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(WorktreeError, match="outside the repository"):
        prepare_worktree(repo, repo / ".helmq" / "worktrees", "k")
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_branch_checked_out_by_the_user_is_left_alone(tmp_path: Path) -> None:
    # Given the user checked out helmq's branch to look at it
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    remove_worktree(wt)
    git(repo, "checkout", "-q", "helmq/k")
    # When helmq prepares the item again, it refuses instead of touching that checkout
    with pytest.raises(WorktreeError, match=r"checked out at .*switch that checkout"):
        prepare_worktree(repo, tmp_path / "wts", "k")
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/helmq/k\n"


def test_git_failure_carries_git_stderr(tmp_path: Path) -> None:
    # Given a stray non-empty directory where the worktree should go
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "wts" / "k").mkdir(parents=True)
    (tmp_path / "wts" / "k" / "junk").write_text("x")
    with pytest.raises(WorktreeError, match=r"(?s)git worktree add failed: .*already exists"):
        prepare_worktree(repo, tmp_path / "wts", "k")


# --- fresh runs ------------------------------------------------------------------------


def helmq_branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/helmq/").split()


def user_commit(repo: Path, name: str, content: str) -> str:
    (repo / name).write_text(content)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", f"user: {name}")
    return git(repo, "rev-parse", "HEAD").strip()


def test_fresh_run_drops_a_merged_branch_and_starts_from_the_users_head(tmp_path: Path) -> None:
    # Given yesterday's branch, merged by the user, who then committed more
    repo = make_repo(tmp_path / "repo")
    old = prepare_worktree(repo, tmp_path / "wts", "k")
    (old.path / "README.md").write_text("fixed\n")
    commit_all(old, "Yesterday")
    (old.path / "scratch.txt").write_text("left by yesterday's run\n")
    git(repo, "merge", "-q", "--ff-only", "helmq/k")
    head = user_commit(repo, "new.txt", "today\n")
    before = snapshot(repo)
    # When a new run prepares the item fresh
    wt = prepare_worktree(repo, tmp_path / "wts", "k", fresh=True)
    # Then the branch starts at today's HEAD, in a clean checkout, and nothing else is kept
    assert wt.path == old.path
    assert wt.base_commit == head
    assert git(repo, "rev-parse", "refs/heads/helmq/k").strip() == head
    assert (wt.path / "new.txt").read_text() == "today\n"
    assert not (wt.path / "scratch.txt").exists()
    assert helmq_branches(repo) == ["helmq/k"]
    assert changed_files(wt) == []
    assert git(repo, "worktree", "list", "--porcelain").count("branch refs/heads/helmq/k") == 1
    assert snapshot(repo) == before


def test_fresh_run_keeps_unmerged_work_under_a_prev_name(tmp_path: Path) -> None:
    # Given a branch with work the user never merged, and a branch already named like its
    # keeper (a user's, or one kept before)
    repo = make_repo(tmp_path / "repo")
    old = prepare_worktree(repo, tmp_path / "wts", "k")
    (old.path / "README.md").write_text("unmerged\n")
    tip = commit_all(old, "Unmerged")
    assert tip is not None
    taken = f"helmq/k-prev-{tip[:8]}"
    git(repo, "branch", taken, "main")
    head = user_commit(repo, "new.txt", "today\n")
    # When a new run prepares the item fresh
    wt = prepare_worktree(repo, tmp_path / "wts", "k", fresh=True)
    # Then the old work is kept under a free name, the existing branch is left as it was,
    # and the item's branch starts anew at HEAD
    assert git(repo, "rev-parse", f"refs/heads/{taken}-2").strip() == tip
    assert git(repo, "rev-parse", f"refs/heads/{taken}").strip() != tip
    assert wt.base_commit == head
    assert git(repo, "rev-parse", "refs/heads/helmq/k").strip() == head
    assert (wt.path / "README.md").read_text() == "# Project\n"
    # And the next fresh run keeps that run's work too, without touching either
    (wt.path / "README.md").write_text("again\n")
    second = commit_all(wt, "Again")
    assert second is not None
    prepare_worktree(repo, tmp_path / "wts", "k", fresh=True)
    assert git(repo, "rev-parse", f"refs/heads/helmq/k-prev-{second[:8]}").strip() == second
    assert git(repo, "rev-parse", f"refs/heads/{taken}-2").strip() == tip


def test_rework_round_keeps_the_branch_even_when_the_user_moved_on(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    fork = git(repo, "rev-parse", "HEAD").strip()
    wt = prepare_worktree(repo, tmp_path / "wts", "k", fresh=True)
    (wt.path / "README.md").write_text("round one\n")
    tip = commit_all(wt, "Round one")
    user_commit(repo, "new.txt", "today\n")
    again = prepare_worktree(repo, tmp_path / "wts", "k", fresh=False)
    assert again.base_commit == fork
    assert git(again.path, "rev-parse", "HEAD").strip() == tip


def test_fresh_run_after_the_worktree_was_deleted_by_hand(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    old = prepare_worktree(repo, tmp_path / "wts", "k")
    shutil.rmtree(old.path)
    head = user_commit(repo, "new.txt", "today\n")
    wt = prepare_worktree(repo, tmp_path / "wts", "k", fresh=True)
    assert wt.base_commit == head
    assert (wt.path / "new.txt").is_file()
    assert helmq_branches(repo) == ["helmq/k"]


# --- timeouts and hostile input ----------------------------------------------------------


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_hung_git_is_killed_with_everything_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a repository whose clean filter hangs (a stuck git-lfs, say)
    repo = make_repo(tmp_path / "repo", {".gitattributes": "*.txt filter=slow\n"})
    pidfile = tmp_path / "filter.pid"
    git(repo, "config", "filter.slow.clean", f"echo $$ > '{pidfile}'; exec sleep 60")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "notes.txt").write_text("x\n")
    monkeypatch.setattr(worktree, "GIT_TIMEOUT", 1.0)
    # When helmq commits there
    started = time.monotonic()
    with pytest.raises(WorktreeError) as info:
        commit_all(wt, "Add notes")
    # Then it gives up after the timeout with an error naming the command and the directory
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "`git add -A` did not finish within 1 s" in message
    assert str(wt.path) in message
    # And the hung filter did not outlive it
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


@pytest.mark.parametrize("base", ["--output={out}", "-R", "HEAD", "main", "ABCDEF0", "abc"])
def test_a_base_commit_that_is_not_a_commit_id_never_reaches_git(
    tmp_path: Path, base: str
) -> None:
    # Given a worktree record whose base commit came from tampered item data
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    out = tmp_path / "x"
    forged = dataclasses.replace(wt, base_commit=base.format(out=out))
    # When a diff is asked for, it is refused and nothing is written
    with pytest.raises(WorktreeError, match="is not a commit id"):
        branch_diff(forged)
    with pytest.raises(WorktreeError, match="is not a commit id"):
        changed_files(forged)
    assert not out.exists()


def test_an_abbreviated_base_commit_still_diffs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    wt = prepare_worktree(repo, tmp_path / "wts", "k")
    (wt.path / "README.md").write_text("changed\n")
    commit_all(wt, "Change")
    short = dataclasses.replace(wt, base_commit=wt.base_commit[:7])
    assert changed_files(short) == ["README.md"]
