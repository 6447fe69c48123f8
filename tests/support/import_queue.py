"""Writing and parsing helm autodo queue.yaml files: shared by the import tests of every tier."""

from __future__ import annotations

import textwrap
from pathlib import Path

from helmq.grammar.queue_yaml import parse_queue


def queue(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queue.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def records(tmp_path: Path, text: str):
    parsed = parse_queue(queue(tmp_path, text))
    assert parsed.errors == []
    return parsed.records
