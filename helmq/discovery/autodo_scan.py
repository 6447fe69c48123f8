"""Discovery from TODO files: every item of every TODO.md in a repository, as a Finding."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from helmq.discovery.files import read_text_file, repo_files
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import fingerprint, item_key, normalize_title
from helmq.domain.model import Finding, Recurrence
from helmq.domain.todo_grammar import parse_todo
from helmq.errors import InputError

TODO_NAMES = {"TODO.md", "todo.md", "TODO.markdown", "TODO.txt"}
_LINE_PREFIX = re.compile(r"line (\d+): ")
OWNED_TAGS = ("tier", "risk", "effort", "max_minutes", "auto_start", "check")
"""The tag keys discovery owns in `data`. Every finding carries all of them (None when the tag
is absent), so a rescan clears a tag the user removed instead of keeping its old value."""


def _file_findings(repo: Path, rel_path: str, text: str, result: ScanResult) -> None:
    """Add the findings and grammar warnings of one TODO file to result."""
    parsed = parse_todo(text)
    result.warnings.extend(
        _LINE_PREFIX.sub(lambda m: f"{rel_path}:{m[1]}: ", warning, count=1)
        for warning in parsed.warnings
    )
    repo_id = str(repo)
    seen: Counter[str] = Counter()
    for entry in parsed.entries:
        title_id = normalize_title(entry.title)
        seen[title_id] += 1
        # The same title twice in one file: the later ones are told apart by occurrence.
        occurrence = () if seen[title_id] == 1 else (f"#{seen[title_id]}",)
        fp = fingerprint(repo_id, rel_path, title_id, *occurrence)
        result.findings.append(Finding(
            fingerprint=fp,
            item_key=item_key(entry.title, fp),
            title=entry.title,
            source_file=rel_path,
            line=entry.line,
            priority=entry.priority,
            recurrence=Recurrence(entry.recurrence) if entry.recurrence else None,
            done=entry.done,
            data={
                "title": entry.title,
                "description": entry.description,
                "scope": " > ".join(entry.scope),
                "source": "todo_md",
                "repo": repo_id,
                "checkbox": entry.checkbox,
                **dict.fromkeys(OWNED_TAGS),
                **entry.tags,
            },
        ))


def scan_todo_files(repo: Path, *, max_bytes: int = 1_000_000) -> ScanResult:
    """Every item of the repository's TODO files; unreadable files become warnings."""
    if not repo.is_dir():
        problem = "is not a directory" if repo.exists() else "does not exist"
        raise InputError(f"repository path {problem}; pass an existing directory",
                         file=str(repo))
    repo = repo.resolve()
    result = ScanResult()
    for rel in repo_files(repo):
        if rel.name not in TODO_NAMES:
            continue
        rel_path = rel.as_posix()
        try:
            text = read_text_file(repo / rel, max_bytes=max_bytes)
        except InputError as exc:
            result.warnings.append(f"{rel_path}: {exc.reason}")
            result.skipped_files.append((str(repo), rel_path))
            continue
        _file_findings(repo, rel_path, text, result)
    return result
