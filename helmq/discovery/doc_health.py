"""Discovery of documentation drift: each problem a doc check's detector finds is one item.

The detectors are the single source of truth: the same code that finds an item here proves
in review that it is gone."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import helmq
from helmq.checks import anchors, env_vars, links, ports
from helmq.checks.registry import Problem
from helmq.checks.sources import SourceTree
from helmq.discovery.cache_format import write_at_once
from helmq.discovery.cache_signatures import file_signature
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.domain.model import Finding, Recurrence, Source
from helmq.errors import CheckError, ConfigError, InputError
from helmq.repos.files import existing_repo, repo_files

log = logging.getLogger(__name__)

SOURCE = Source.DOC_HEALTH
"""The `data.source` of every item this strategy writes."""
CACHE_FORMAT = 1
"""Bump when what the checks derive from a repo changes: older caches are then ignored."""


class DocCheck(Protocol):
    """A script check that can read a listed tree and name an item after its problem."""

    name: str

    def inspect(self, tree: SourceTree) -> list[Problem]:
        """The problems in `tree`."""
        ...

    def title(self, problem: Problem) -> str:
        """What an item about `problem` is called."""
        ...


DOC_CHECKS: dict[str, DocCheck] = {
    check.name: check for check in (links.CHECK, anchors.CHECK, ports.CHECK, env_vars.CHECK)
}


def _selected(options: Mapping[str, Any] | None) -> list[DocCheck]:
    names = (options or {}).get("checks")
    if names is None:
        return list(DOC_CHECKS.values())
    # An empty list would scan nothing and have every doc_health item marked gone.
    if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"expected a non-empty list of check names (known: "
                          f"{', '.join(DOC_CHECKS)}), got {names!r}", key="options.checks")
    unknown = [n for n in names if n not in DOC_CHECKS]
    if unknown:
        raise ConfigError(f"no doc check is called {', '.join(map(repr, unknown))} (known: "
                          f"{', '.join(DOC_CHECKS)}); fix the list", key="options.checks")
    return [DOC_CHECKS[n] for n in dict.fromkeys(names)]


def finding(repo_id: str, check: DocCheck, problem: Problem) -> Finding:
    """The item for one problem, identified by (check, file, key): not by its line."""
    fp = fingerprint(repo_id, SOURCE, check.name, problem.file, problem.key)
    title = check.title(problem)
    return Finding(
        fingerprint=fp,
        item_key=item_key(title, fp),
        title=title,
        source_file=problem.file,
        line=problem.line,
        data={
            "title": title,
            "description": problem.message,
            "scope": problem.file,
            "source": SOURCE,
            "repo": repo_id,
            "tier": "script",
            "check": check.name,
            "problem": {"file": problem.file, "key": problem.key},
        },
    )


def _finding_from_json(raw: dict[str, Any]) -> Finding:
    recurrence = raw.get("recurrence")
    return Finding(**{**raw, "recurrence": Recurrence(recurrence) if recurrence else None})


class _RepoCache:
    """The last scan of one repo: its listing with each file's stat, and what was found.

    Reused whole when nothing changed; any change means a full scan, since a link, a port or
    a variable ties files together."""

    def __init__(self, cache_dir: Path, repo_id: str, checks: list[str]) -> None:
        key = hashlib.sha256(repo_id.encode()).hexdigest()[:16]
        self.path = cache_dir / f"doc_health-{key}.json"
        self.stamp = {"format": CACHE_FORMAT, "helmq": helmq.__version__, "repo": repo_id,
                      "checks": checks}

    def load(self, listing: dict[str, list[int] | None]) -> ScanResult | None:
        """The cached result when the stamp and every file's signature still match."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if ({k: raw.get(k) for k in self.stamp} != self.stamp
                    or raw.get("listing") != listing):
                return None
            return ScanResult(
                findings=[_finding_from_json(f) for f in raw["findings"]],
                warnings=[str(w) for w in raw["warnings"]],
                skipped_files=[(str(r), str(p)) for r, p in raw["skipped_files"]],
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("doc_health cache %s is unusable (%s); rescanning", self.path, exc)
            return None

    def save(self, listing: dict[str, list[int] | None], result: ScanResult) -> None:
        """Remember this scan; a failure to write is logged, not raised."""
        payload = {**self.stamp, "listing": listing,
                   "findings": [asdict(f) for f in result.findings],
                   "warnings": result.warnings, "skipped_files": result.skipped_files}
        try:
            text = json.dumps(payload, separators=(",", ":"))  # ASCII: non-ASCII is escaped
        except (TypeError, ValueError) as exc:
            log.warning("cannot write doc_health cache %s: %s", self.path, exc)
            return
        write_at_once(self.path, text)


def scan_repo(repo: Path, checks: Sequence[DocCheck], *,
              cache_dir: Path | None = None) -> ScanResult:
    """The doc checks' problems in one repo, as findings. Raises `InputError` when the repo
    cannot be read."""
    root = existing_repo(repo)
    repo_id = str(root)
    try:
        tree = SourceTree(root)
    except CheckError as exc:
        raise InputError(str(exc), file=repo_id) from exc
    # Signatures before any read: a change during the scan shows next time. Untracked files
    # count too: a link to one breaks when it is deleted, though no tracked file changed.
    names = set(tree.files) | {Path(rel).as_posix() for rel in repo_files(root)}
    listing = {rel: (list(sig) if (sig := file_signature(root / rel)) else None)
               for rel in sorted(names)}
    cache = _RepoCache(cache_dir, repo_id, [c.name for c in checks]) if cache_dir else None
    if cache is not None and (cached := cache.load(listing)) is not None:
        cached.scanned.append(repo_id)
        return cached
    result = ScanResult()
    for check in checks:
        # One item per (file, key): the same broken link twice in a file is fixed as one.
        firsts: dict[tuple[str, str], Problem] = {}
        for problem in check.inspect(tree):
            firsts.setdefault((problem.file, problem.key), problem)
        result.findings.extend(finding(repo_id, check, p) for p in firsts.values())
    result.warnings.extend(f"{repo_id}: {rel}: {why}" for rel, why in tree.skipped.items())
    result.skipped_files.extend((repo_id, rel) for rel in tree.skipped)
    if cache is not None:
        cache.save(listing, result)
    result.scanned.append(repo_id)
    return result


def doc_health(repos: Sequence[Path], *, cache_dir: Path | None = None,
               options: Mapping[str, Any] | None = None) -> ScanResult:
    """Broken links and anchors in Markdown, ports and environment variables that docs and
    config disagree on, in every repo; each problem is an item for the script check that
    finds it (`options={"checks": [...]}` runs only those).

    A repo that cannot be read is a warning, not a stop, and does not count as scanned; a file
    that cannot be read as text is listed in `skipped_files`, so its items are kept. With a
    cache_dir, a repo whose listing and file stats are unchanged is not read again."""
    checks = _selected(options)
    merged = ScanResult()
    for repo in repos:
        try:
            part = scan_repo(Path(repo), checks, cache_dir=cache_dir)
        except InputError as exc:
            merged.warnings.append(str(exc))
            continue
        merged.findings.extend(part.findings)
        merged.warnings.extend(part.warnings)
        merged.skipped_files.extend(part.skipped_files)
        merged.scanned.extend(part.scanned)
    return merged
