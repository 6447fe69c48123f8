"""An item's files as the UI may show them: report, transcript and branch diff.

Paths come from the database; a page only reads a file that resolves inside the state dir
(or, for transcripts, the Claude config dir), so a row pointing elsewhere shows nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from helmq.config.settings import Settings
from helmq.domain.item import WorkItem

MAX_FILE_BYTES = 4_000_000
"""Bigger reports and transcripts are cut: a page must stay readable and fast."""


def transcript_roots(settings: Settings) -> list[Path]:
    """Where session transcripts may be read: the state dir (the Claude tier's config dir
    defaults to <state>/claude) and the config dirs named by HELMQ_CLAUDE_CONFIG_DIR and
    CLAUDE_CONFIG_DIR."""
    return [settings.state_dir, *settings.transcript_dirs]


def confined(raw: str | os.PathLike | None, roots: list[Path]) -> Path | None:
    """`raw` resolved (symlinks too) when it is an existing file inside one of `roots`."""
    if not raw:
        return None
    try:
        path = Path(raw).expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    for root in roots:
        try:
            path.relative_to(root.expanduser().resolve())
        except (OSError, ValueError):
            continue
        return path if path.is_file() else None
    return None


def report_file(item: WorkItem, settings: Settings) -> Path | None:
    """The item's Markdown report, if it exists inside the state dir."""
    return confined(item.report_path, [settings.state_dir])


def transcript_candidates(item: WorkItem) -> list[str]:
    """Where the item's session transcript was recorded: the Claude tier keeps it in
    data["claude"]; other runners may set data["transcript_path"]."""
    places = (item.data.get("claude"), item.data, item.data.get("execute"))
    return [str(p["transcript_path"]) for p in places
            if isinstance(p, dict) and p.get("transcript_path")]


def transcript_file(item: WorkItem, settings: Settings) -> Path | None:
    """The item's transcript, if it exists inside the state dir or a Claude config dir."""
    roots = transcript_roots(settings)
    for raw in transcript_candidates(item):
        path = confined(raw, roots)
        if path is not None:
            return path
    return None


def read_text(path: Path) -> tuple[str, bool]:
    """The file's text (at most MAX_FILE_BYTES) and whether it was cut."""
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    return data[:MAX_FILE_BYTES].decode("utf-8", errors="replace"), len(data) > MAX_FILE_BYTES
