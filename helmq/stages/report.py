"""The Markdown report an item leaves behind: what was found, done and decided."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helmq.checks.registry import Problem
from helmq.domain.item import WorkItem


def write_report(reports_dir: Path, item: WorkItem, verdict: dict[str, Any], *, diff: str,
                 problems: Sequence[Problem] = ()) -> Path:
    """Write `<reports_dir>/<item_key>.md` and return its path. `problems` are what a
    report-only check still finds: the report says what they are and where, for a person."""
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
    if problems:
        lines += ["", "## To settle by hand", ""]
        for p in problems:
            lines.append(f"- `{p.file}:{p.line}`: {p.message}")
            # Lists in the detail are further places and candidates: `read_at`, `config_ports`.
            lines += [f"  - {key.replace('_', ' ')}: {', '.join(map(str, value))}"
                      for key, value in p.detail.items() if isinstance(value, list) and value]
    elif ex.get("unfixed"):
        lines += ["", "## Not fixed", ""]
        lines += [f"- `{p['file']}:{p['line']}`: {p['message']}" for p in ex["unfixed"]]
    lines += _llm_sections(ex, verdict)
    if diff:
        lines += ["", "## Diff", "", "```diff", diff.rstrip("\n"), "```"]
    path = reports_dir / f"{item.item_key}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _llm_sections(ex: dict[str, Any], verdict: dict[str, Any]) -> list[str]:
    """What an LLM tier said it did, how a vario panel voted, and the reviewer's feedback."""
    lines: list[str] = []
    if ex.get("session_id"):
        lines += ["", "## Claude session", "",
                  f"- session: `{ex['session_id']}`",
                  f"- transcript: `{ex.get('transcript_path') or '—'}`",
                  f"- turns: {ex.get('turns', 0)}, tool calls: {ex.get('tool_calls', 0)}, "
                  f"cost: ${float(ex.get('cost_usd') or 0):.4f}"]
    if ex.get("result"):
        lines += ["", "## Result", "", str(ex["result"])]
    if ex.get("summary"):
        lines += ["", "## Summary", "", str(ex["summary"])]
    if ex.get("report"):
        lines += ["", "## Report", "", str(ex["report"])]
    vote = ex.get("vote")
    if vote:
        tally = ", ".join(f"{k}: {v}" for k, v in sorted(vote.get("tally", {}).items()))
        lines += ["", "## Vote", "", f"- verdict: **{vote['verdict']}** ({tally}); followed "
                  f"{vote.get('followed')}", f"- ties: {vote.get('tie_rule')}"]
        for ballot in vote.get("dissent") or []:
            lines.append(f"- dissent from {ballot['model']}: {ballot['verdict']}: "
                         f"{ballot.get('reasons', '')}")
    if ex.get("cost_usd") and not ex.get("session_id"):
        lines += ["", f"- execute cost: ${ex['cost_usd']:.4f} over {ex.get('calls', 0)} call(s)"]
    if verdict.get("feedback"):
        lines += ["", "## Review feedback", "", str(verdict["feedback"])]
    return lines
