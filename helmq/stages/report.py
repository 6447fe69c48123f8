"""The Markdown report an item leaves behind: what was found, done and decided."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helmq.domain.item import WorkItem


def write_report(reports_dir: Path, item: WorkItem, verdict: dict[str, Any], *, diff: str) -> Path:
    """Write `<reports_dir>/<item_key>.md` and return its path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    ex = item.data.get("execute") or {}
    lines = [
        f"# {item.title}",
        "",
        f"- item: `{item.item_key}` (job `{item.job}`)",
        f"- source: `{item.source_file}:{item.line}`" if item.source_file else "- source: —",
        f"- tier: {item.tier}",
        f"- check: {ex.get('check', '—')}: {ex.get('problems', 0)} problem(s), "
        f"{ex.get('fixed', 0)} fixed",
        f"- branch: `{item.branch or '—'}`",
        f"- verdict: **{verdict['verdict']}**",
        "",
        *[f"  - {r}" for r in verdict.get("reasons", [])],
    ]
    if ex.get("unfixed"):
        lines += ["", "## Not fixed", ""]
        lines += [f"- `{p['file']}:{p['line']}`: {p['message']}" for p in ex["unfixed"]]
    if diff:
        lines += ["", "## Diff", "", "```diff", diff.rstrip("\n"), "```"]
    path = reports_dir / f"{item.item_key}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
