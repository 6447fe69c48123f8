"""The disk around helmq: subprocesses, file listings, walking folders, git worktrees, the
last-active file."""
