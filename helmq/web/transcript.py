"""A Claude session's stream-json (or ~/.claude JSONL) transcript as readable turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_TURNS = 2000
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Turn:
    """One readable step of a session."""

    role: str
    """system, user, assistant, tool or result."""
    kind: str
    """text, thinking, tool_use, tool_result, init, or the result's subtype."""
    text: str
    name: str | None = None
    """The tool's name for tool_use; the tool_use id a tool_result answers."""
    error: bool = False


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters not shown)"


def _flatten(content: Any) -> str:
    """A tool result's content: a string, or a list of text (and other) blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, dict):
                parts.append(f"[{block.get('type', 'block')}]")
            else:
                parts.append(str(block))
        return "\n".join(parts)
    return "" if content is None else json.dumps(content, indent=2, ensure_ascii=False)


def _blocks(role: str, content: Any) -> list[Turn]:
    if isinstance(content, str):
        return [Turn(role, "text", _cut(content))]
    out = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            out.append(Turn(role, "text", _cut(str(block.get("text", "")))))
        elif kind == "thinking":
            out.append(Turn(role, "thinking", _cut(str(block.get("thinking", "")))))
        elif kind == "tool_use":
            out.append(Turn(role, "tool_use", _cut(json.dumps(block.get("input"), indent=2,
                                                              ensure_ascii=False)),
                            name=str(block.get("name", "?"))))
        elif kind == "tool_result":
            out.append(Turn("tool", "tool_result", _cut(_flatten(block.get("content"))),
                            name=block.get("tool_use_id"), error=bool(block.get("is_error"))))
    return out


def _event(obj: dict[str, Any]) -> list[Turn]:
    kind = obj.get("type")
    if kind == "system":
        facts = [f"{k}: {obj[k]}" for k in ("model", "cwd", "session_id", "permissionMode")
                 if obj.get(k)]
        return [Turn("system", str(obj.get("subtype") or "system"), "\n".join(facts))]
    if kind in ("user", "assistant"):
        message = obj.get("message") or {}
        return _blocks(kind, message.get("content") if isinstance(message, dict) else message)
    if kind == "result":
        facts = [f"{k}: {obj[k]}" for k in ("num_turns", "duration_ms", "total_cost_usd")
                 if obj.get(k) is not None]
        body = str(obj.get("result") or "")
        return [Turn("result", str(obj.get("subtype") or "result"),
                     _cut("\n".join(facts + ([body] if body else []))),
                     error=bool(obj.get("is_error")))]
    return []


def parse_transcript(text: str) -> tuple[list[Turn], bool]:
    """The turns of a JSONL transcript, and whether some were left out (over MAX_TURNS)."""
    turns: list[Turn] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            turns.append(Turn("raw", "unparsed", _cut(line)))
            continue
        if isinstance(obj, dict):
            turns.extend(_event(obj))
        if len(turns) >= MAX_TURNS:
            return turns[:MAX_TURNS], True
    return turns, False
