"""Execution tiers: script checks and fixers, LLM calls, vario, claude sessions, worktrees."""
