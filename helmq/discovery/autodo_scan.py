"""Discovery from TODO files: every item of every TODO.md in a repository, as a Finding."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from helmq.discovery.cache import FileCache, read_all
from helmq.discovery.cache_entries import FileResult
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import Occurrences, fingerprint, item_key, normalize_title
from helmq.domain.model import Finding, Recurrence, Source
from helmq.errors import InputError
from helmq.grammar.todo_md import parse_todo
from helmq.repos.files import existing_repo, listed_files, read_text_file

TODO_NAMES = {"TODO.md", "todo.md", "TODO.markdown", "TODO.txt"}
_LINE_PREFIX = re.compile(r"line (\d+): ")
OWNED_TAGS = ("tier", "risk", "effort", "max_minutes", "auto_start", "check")
"""The tag keys discovery owns in `data`. Every finding carries all of them (None when the tag
is absent), so a rescan clears a tag the user removed instead of keeping its old value."""


def _file_findings(repo: Path, rel_path: str, text: str, result: FileResult) -> None:
    """Add the findings and grammar warnings of one TODO file to result."""
    parsed = parse_todo(text)
    result.warnings.extend(
        _LINE_PREFIX.sub(lambda m: f"{rel_path}:{m[1]}: ", warning, count=1)
        for warning in parsed.warnings
    )
    repo_id = str(repo)
    occurrence = Occurrences()
    for entry in parsed.entries:
        title_id = normalize_title(entry.title)
        fp = fingerprint(repo_id, rel_path, title_id, *occurrence(title_id))
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
                "source": Source.TODO_MD,
                "repo": repo_id,
                "checkbox": entry.checkbox,
                **dict.fromkeys(OWNED_TAGS),
                **entry.tags,
            },
        ))


def add_file_result(result: ScanResult, repo_id: str, rel_path: str, part: FileResult) -> None:
    """Add what a scanner found in one file to the result of the scan."""
    result.findings.extend(part.findings)
    result.warnings.extend(part.warnings)
    if part.skipped:
        result.skipped_files.append((repo_id, rel_path))


def skipped_file(rel_path: str, exc: InputError) -> tuple[FileResult, bool]:
    """The result for a file that could not be read as text, and whether it may be cached:
    not when the OS refused the read (permissions may change without touching the mtime)."""
    part = FileResult(warnings=[f"{rel_path}: {exc.reason}"], skipped=True)
    return part, not isinstance(exc.__cause__, OSError)


def _read_todo_file(repo: Path, rel_path: str, max_bytes: int) -> tuple[FileResult, bool]:
    """What one TODO file holds, and whether that may be cached."""
    try:
        text = read_text_file(repo / rel_path, max_bytes=max_bytes)
    except InputError as exc:
        return skipped_file(rel_path, exc)
    part = FileResult()
    _file_findings(repo, rel_path, text, part)
    return part, True


def scan_todo_files(repo: Path, *, max_bytes: int = 1_000_000,
                    cache: FileCache | None = None,
                    files: Sequence[Path] | None = None) -> ScanResult:
    """Every item of the repository's TODO files; unreadable files become warnings.

    With a cache, a file whose stat (mtime, size, inode, ctime) is unchanged is not read again.
    `files` is the repo's file list when the caller already has it (see `repo_files`).
    """
    repo = existing_repo(repo)
    result = ScanResult()
    for rel_path, part in read_all(
            cache, f"todo_md:{max_bytes}", listed_files(repo, files),
            lambda rel_path: rel_path[rel_path.rfind("/") + 1:] in TODO_NAMES,
            lambda rel_path: _read_todo_file(repo, rel_path, max_bytes)):
        add_file_result(result, str(repo), rel_path, part)
    return result
