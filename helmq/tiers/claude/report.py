"""The Markdown report a Claude session leaves behind, whatever its outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helmq.domain.item import WorkItem

DIFF_LIMIT = 200_000
"""Characters of diff kept in the report; the branch holds the rest."""


def diff_stat(diff: str) -> str:
    """`git diff --stat`-like lines from a unified diff: each file with its +/- counts."""
    counts: dict[str, list[int]] = {}
    current: list[int] = []
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            current = counts.setdefault(line.split(" b/", 1)[-1], [0, 0])
            in_hunk = False
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line[:1] in ("+", "-"):
            current[line[0] == "-"] += 1
    return "\n".join(f"{name} | +{add} -{rem}" for name, (add, rem) in counts.items())


def write_session_report(reports_dir: Path, item: WorkItem, session: dict[str, Any], *,
                         diff: str) -> Path:
    """Write `<reports_dir>/<item_key>.md` from the session's record and return its path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    cost = session.get("cost_usd")
    cost_text = "unknown" if cost is None else f"${cost:.4f}" + (
        " (estimated from usage)" if session.get("cost_estimated") else "")
    lines = [
        f"# {item.title}",
        "",
        f"- item: `{item.item_key}` (job `{item.job}`)",
        f"- source: `{item.source_file}:{item.line}`" if item.source_file else "- source: —",
        "- tier: claude_session",
        f"- outcome: **{session['outcome']}**: {session.get('reason', '')}",
        f"- session: `{session.get('session_id') or '—'}`"
        + (" (resumed)" if session.get("resumed") else ""),
        f"- transcript: `{session.get('transcript_path') or '—'}`",
        f"- turns: {session.get('turns', 0)}, tool calls: {session.get('tool_calls', 0)}, "
        f"cost: {cost_text}",
        f"- branch: `{session.get('branch') or '—'}`"
        + (f" at `{session['commit'][:12]}`" if session.get("commit") else ""),
        f"- ran {session.get('seconds', 0):.1f} s"
        + (f", paused {session['paused_seconds']:.1f} s" if session.get("paused_seconds") else ""),
    ]
    denials = session.get("permission_denials") or []
    if denials:
        lines += ["", "## Refused tool calls", ""]
        lines += [f"- {d.get('tool_name')}: `{str(d.get('tool_input'))[:200]}`" for d in denials]
    lines += ["", "## Result", "", (session.get("result") or "(the session gave no result text)")]
    stat = diff_stat(diff)
    if stat:
        lines += ["", "## Changes", "", "```", stat, "```"]
    if diff:
        shown = diff if len(diff) <= DIFF_LIMIT else diff[:DIFF_LIMIT] + "\n… (diff truncated)"
        lines += ["", "## Diff", "", "```diff", shown.rstrip("\n"), "```"]
    path = reports_dir / f"{item.item_key}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
