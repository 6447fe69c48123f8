"""The `conventions` strategy: per-repo rules from jobs.yaml, each violation an item.

A rule is one of: a regular expression that must not match (`forbid`), a file that must exist
(`require_file`), or a longest allowed file (`max_lines`). A `forbid` or `max_lines` finding is
one item per rule and file (all matches of a file together), so fixing a file closes its item
and a new match elsewhere is a new item."""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from helmq.discovery.autodo_scan import add_file_result, skipped_file
from helmq.discovery.cache import FileCache, read_through
from helmq.discovery.cache_entries import FileResult
from helmq.discovery.code_comments import is_generated, is_vendored
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.jobs import ConventionRule
from helmq.domain.model import Finding, Source
from helmq.errors import InputError
from helmq.repos.files import existing_repo, read_text_file, repo_files

SOURCE = Source.CONVENTIONS
MAX_BYTES = 2_000_000
_SHOWN_MATCHES = 20


def _glob_match(rel: str, glob: str) -> bool:
    """gitignore-like: a glob without `/` matches the file name, one with `/` the whole path."""
    if "/" not in glob:
        return fnmatch.fnmatchcase(PurePosixPath(rel).name, glob)
    return fnmatch.fnmatchcase(rel, glob.lstrip("/"))


def applies(rule: ConventionRule, rel: str) -> bool:
    """Whether the rule covers the repo-relative posix path `rel`."""
    return (any(_glob_match(rel, g) for g in rule.files)
            and not any(_glob_match(rel, g) for g in rule.exclude))


def _finding(rule: ConventionRule, repo_id: str, rel: str, line: int, title: str,
             detail: dict) -> Finding:
    fp = fingerprint(repo_id, SOURCE, rule.name, rel)
    return Finding(
        fingerprint=fp,
        item_key=item_key(f"{rule.name} {rel}", fp),
        title=title,
        source_file=rel,
        line=line,
        data={
            "title": title,
            "source": SOURCE,
            "repo": repo_id,
            "rule": rule.name,
            "rule_kind": rule.kind,
            "scope": rel,
            "description": rule.message,
            **detail,
        },
    )


def _rule_kind(rule: ConventionRule) -> str:
    """The cache kind of a rule: its name and a digest of its settings, so an edited rule
    does not reuse what the old one found."""
    settings = repr((rule.forbid, rule.max_lines, rule.message))
    digest = hashlib.sha256(settings.encode()).hexdigest()[:12]
    return f"{SOURCE}:{rule.name}:{digest}"


def _check_file(rule: ConventionRule, repo_id: str, path: Path, rel: str,
                pattern: re.Pattern[str] | None) -> tuple[FileResult, bool]:
    part = FileResult()
    try:
        text = read_text_file(path, max_bytes=MAX_BYTES)
    except InputError as exc:
        return skipped_file(rel, exc)
    lines = text.splitlines()
    if pattern is not None:
        hits = [n for n, line in enumerate(lines, start=1) if pattern.search(line)]
        if hits:
            shown = ", ".join(map(str, hits[:_SHOWN_MATCHES]))
            more = f" (and {len(hits) - _SHOWN_MATCHES} more)" if len(hits) > _SHOWN_MATCHES else ""
            part.findings.append(_finding(
                rule, repo_id, rel, hits[0],
                f"{rule.name}: {rel} matches /{rule.forbid}/ "
                f"({len(hits)} line{'s' if len(hits) != 1 else ''})",
                {"matches": len(hits), "match_lines": hits[:_SHOWN_MATCHES],
                 "detail": f"lines {shown}{more} match {rule.forbid!r}"}))
    elif rule.max_lines is not None and len(lines) > rule.max_lines:
        part.findings.append(_finding(
            rule, repo_id, rel, rule.max_lines + 1,
            f"{rule.name}: {rel} has {len(lines)} lines (at most {rule.max_lines})",
            {"lines": len(lines), "max_lines": rule.max_lines}))
    return part, True


def _applies_to_repo(rule: ConventionRule, repo: Path) -> bool:
    return not rule.repos or any(repo == r.resolve() for r in rule.repos)


def check_repo(repo: Path, rules: Sequence[ConventionRule], *,
               cache: FileCache | None = None,
               files: Sequence[Path] | None = None) -> ScanResult:
    """Every violation of `rules` in one repository (files as discovery sees them)."""
    repo = existing_repo(repo)
    repo_id = str(repo)
    result = ScanResult()
    listing = None
    for rule in rules:
        if not _applies_to_repo(rule, repo):
            continue
        if rule.require_file is not None:
            if not (repo / rule.require_file).exists():
                result.findings.append(_finding(
                    rule, repo_id, rule.require_file, 0,
                    f"{rule.name}: {rule.require_file} is missing", {"missing": True}))
            continue
        if listing is None:
            listing = [(rel, rel.as_posix()) for rel in (repo_files(repo) if files is None
                                                        else files)
                       if not is_vendored(rel) and not is_generated(rel.name)]
        pattern = re.compile(rule.forbid) if rule.forbid else None
        kind = _rule_kind(rule)
        for rel, rel_path in listing:
            if not applies(rule, rel_path):
                continue
            path = repo / rel
            part = read_through(
                cache, kind, rel_path, path,
                functools.partial(_check_file, rule, repo_id, path, rel_path, pattern))
            add_file_result(result, repo_id, rel_path, part)
    return result
