"""A per-repository cache of what discovery found in each file, keyed by the file's stat.

A rescan of a file whose (mtime, size, inode, ctime) is unchanged reuses the cached result
instead of opening the file (not even for its `#!` line), so a rescan of an unchanged tree
reads no file contents."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helmq
from helmq.domain.model import Finding, Recurrence

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
"""Bump when what a scanner derives from a file changes: older caches are then discarded.
2: code comments take a lone marker's title from the next line; entries leave out empties."""

Signature = tuple[int, int, int, int]


def file_signature(path: str | os.PathLike[str]) -> Signature | None:
    """(st_mtime_ns, st_size, st_ino, st_ctime_ns) of the file, None when it cannot be
    stat'ed. The ctime catches what the mtime does not: a chmod, an mtime set back."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


@dataclass
class FileResult:
    """What one scanner found in one file."""

    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: bool = False


_FINDING_FIELDS = tuple(f.name for f in dataclasses.fields(Finding))


def _finding_to_json(finding: Finding) -> dict[str, Any]:
    # Not dataclasses.asdict, which deep-copies every value one by one: `data` holds plain
    # JSON values, and a copy of the dict keeps a later change to the finding out of the cache.
    out = {name: getattr(finding, name) for name in _FINDING_FIELDS}
    out["data"] = dict(finding.data)
    out["recurrence"] = finding.recurrence.value if finding.recurrence else None
    return out


def _finding_from_json(raw: dict[str, Any]) -> Finding:
    recurrence = raw.get("recurrence")
    return Finding(**{**raw, "recurrence": Recurrence(recurrence) if recurrence else None})


class FileCache:
    """The cached per-file scan results of one repository, persisted as JSON in cache_dir."""

    def __init__(self, cache_dir: Path, repo: Path) -> None:
        self.repo = repo.resolve()
        key = hashlib.sha256(str(self.repo).encode()).hexdigest()[:16]
        self.path = Path(cache_dir) / f"{key}.json"
        self._entries: dict[str, dict[str, dict[str, Any]]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._dirty = False
        self._load()

    # --- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("scan cache %s is unreadable (%s); rebuilding it", self.path, exc)
            self._dirty = True
            return
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
                raise ValueError("not a scan cache")
            entries = data["entries"]
            if not all(isinstance(v, dict) and all(isinstance(e, dict) for e in v.values())
                       for v in entries.values()):
                raise ValueError("malformed entries")
        except ValueError as exc:
            log.warning("scan cache %s is corrupt (%s); rebuilding it", self.path, exc)
            self._dirty = True
            return
        if (data.get("format") != CACHE_FORMAT or data.get("helmq") != helmq.__version__
                or data.get("repo") != str(self.repo)):
            log.info("scan cache %s is from another helmq version or repo; rebuilding it",
                     self.path)
            self._dirty = True
            return
        self._entries = entries

    def save(self) -> None:
        """Write the cache, without the entries of files this scan did not look at.

        Nothing is written when the scan changed nothing. A failure to write is logged.
        """
        kept = {kind: {rel: entry for rel, entry in files.items() if (kind, rel) in self._seen}
                for kind, files in self._entries.items()}
        kept = {kind: files for kind, files in kept.items() if files}
        if not self._dirty and kept == self._entries:
            return
        payload = {"format": CACHE_FORMAT, "helmq": helmq.__version__, "repo": str(self.repo),
                   "entries": kept}
        tmp_name = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent,
                                             prefix=self.path.name, suffix=".tmp",
                                             delete=False) as tmp:
                tmp_name = tmp.name
                # dumps, not dump: only the one-shot encoder is the C one (10x faster).
                tmp.write(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
            os.replace(tmp_name, self.path)
            tmp_name = None
        except (OSError, TypeError, ValueError) as exc:
            log.warning("cannot write scan cache %s: %s", self.path, exc)
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        self._entries, self._dirty = kept, False

    # --- entries -----------------------------------------------------------------------------

    def lookup(self, kind: str, rel: str, sig: Signature | None) -> FileResult | None:
        """The cached result of scanner `kind` for file `rel` if its signature is unchanged."""
        self._seen.add((kind, rel))
        if sig is None:
            return None
        entry = self._entries.get(kind, {}).get(rel)
        if entry is None or entry.get("sig") != list(sig):
            return None
        if len(entry) == 1:  # the signature alone: a file that held nothing
            return FileResult()
        try:
            return FileResult(
                findings=[_finding_from_json(f) for f in entry.get("findings", ())],
                warnings=[str(w) for w in entry.get("warnings", ())],
                skipped=bool(entry.get("skipped", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def store(self, kind: str, rel: str, sig: Signature | None, result: FileResult) -> None:
        """Remember what scanner `kind` found in file `rel` when it had signature `sig`."""
        self._seen.add((kind, rel))
        if sig is None:
            return
        # Most files hold nothing: their entry is the signature alone, which keeps the cache
        # small and quick to write and read.
        entry: dict[str, Any] = {"sig": list(sig)}
        if result.findings:
            entry["findings"] = [_finding_to_json(f) for f in result.findings]
        if result.warnings:
            entry["warnings"] = list(result.warnings)
        if result.skipped:
            entry["skipped"] = True
        self._entries.setdefault(kind, {})[rel] = entry
        self._dirty = True


def read_through(cache: FileCache | None, kind: str, rel: str, path: str | os.PathLike[str],
                 read: Callable[[], tuple[FileResult, bool]]) -> FileResult:
    """One file's result: from the cache when its stat is unchanged, else `read()` (whose
    second value says whether the result may be cached)."""
    if cache is None:
        return read()[0]
    sig = file_signature(path)  # before the read: a change during it shows next time
    part = cache.lookup(kind, rel, sig)
    if part is None:
        part, cacheable = read()
        if cacheable:
            cache.store(kind, rel, sig, part)
    return part
