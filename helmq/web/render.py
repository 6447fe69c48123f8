"""HTML rendering: the Jinja environment (autoescaped), safe Markdown, and display filters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # html=False: raw HTML in a report is shown as text; markdown-it also refuses
    # javascript:/vbscript:/data: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"])


def markdown(text: str | None) -> Markup:
    """Markdown as HTML with every raw HTML tag escaped."""
    return Markup(_markdown().render(text or ""))


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """A short relative time: `12s ago`, `5m ago`, `3h ago`, `4d ago`."""
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 0:
        return "just now"
    for size, unit in ((86_400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def money(value: float | None) -> str:
    if not value:
        return "—"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def diff_class(line: str) -> str:
    """A CSS class for one line of a unified diff."""
    if line.startswith(("+++", "---", "diff ", "index ")):
        return "meta"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return ""


def verdict(item: Any) -> str | None:
    """The review verdict in an item's data, if any."""
    review = item.data.get("review")
    return str(review.get("verdict")) if isinstance(review, dict) and review.get("verdict") \
        else None


def count(n: int, cap: int) -> str:
    """A capped count: `1,234`, or `10,000+` past the cap."""
    return f"{cap:,}+" if n > cap else f"{n:,}"


def make_environment() -> Environment:
    """The templates' environment: autoescape always on, undefined names are errors."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ago=ago, iso=iso, money=money, pretty_json=pretty_json,
                       markdown=markdown, diff_class=diff_class, count=count)
    env.globals.update(duration=duration, verdict=verdict)
    return env
