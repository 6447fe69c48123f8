"""The Claude session tier: the real `claude` CLI, headless, in the item's worktree.

`config` (limits and where the CLI lives), `prompt` (what the agent is asked), `stream`
(reading its stream-json events), `process` (running it under helmq's own time limit and
pause policy), `outcome` (what a finished session amounts to), `report` (the Markdown it
leaves behind). `session` composes them into one session; `tier` runs it under the item's
budget as the tier's `execute`.
"""

from __future__ import annotations

from helmq.tiers.claude.tier import execute

__all__ = ["execute"]
