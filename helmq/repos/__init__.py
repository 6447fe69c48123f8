"""Repositories on disk: subprocesses, file listings, walking folders, git worktrees."""
