"""A per-repository cache of what discovery found in each file, keyed by the file's stat, and
of the folder listings of a walked tree.

A rescan of a file whose (mtime, size, inode, ctime) is unchanged reuses the cached result
instead of opening the file (not even for its `#!` line), so a rescan of an unchanged tree
reads no file contents; outside git it lists no unchanged folder either."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helmq
from helmq.discovery.cache_format import (
    FINDING_FIELDS,
    Tail,
    finding_from_row,
    finding_row,
    packed,
    split,
    write_at_once,
)
from helmq.domain.model import Finding
from helmq.repos.files import RepoFiles
from helmq.repos.walk import RECENT_NS, FolderListings, stat_base

log = logging.getLogger(__name__)

CACHE_FORMAT = 3
"""Bump when what a scanner derives from a file changes: older caches are then discarded.
2: code comments take a lone marker's title from the next line; entries leave out empties.
3: walked folders' listings; per scanner its files and their signatures in flat lists (the
numbers after the JSON), the results of only the files that held something (findings as rows),
and the file list they were picked from."""

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


def _result_to_json(result: FileResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if result.findings:
        out["findings"] = [finding_row(f) for f in result.findings]
    if result.warnings:
        out["warnings"] = list(result.warnings)
    if result.skipped:
        out["skipped"] = True
    return out


def _result_from_json(raw: dict[str, Any]) -> FileResult:
    rows, warnings = raw.get("findings"), raw.get("warnings")
    return FileResult(findings=[finding_from_row(row) for row in rows] if rows else [],
                      warnings=[str(w) for w in warnings] if warnings else [],
                      skipped=raw.get("skipped") is True)


_MALFORMED = (AttributeError, IndexError, KeyError, TypeError, ValueError)
"""What reading back a result the cache holds raises when it was not written by this code."""


def _holds_something(result: FileResult) -> bool:
    return bool(result.findings or result.warnings or result.skipped)


_UNKNOWN = [-1, -1, -1, -1]
"""The signature of a file to read again next time: no file has it (no size is negative)."""


def _trusted(sigs: list[int]) -> list[int]:
    """The signatures to keep for the next scan: a file written within RECENT_NS of now may
    change again in the same clock tick without its mtime moving, so it is read again next
    time (`_UNKNOWN`), as walk does with such folders."""
    recent = time.time_ns() - RECENT_NS
    if not any(mtime >= recent for mtime in sigs[::4]):
        return sigs
    kept = list(sigs)
    for i in range(0, len(kept), 4):
        if kept[i] >= recent:
            kept[i:i + 4] = _UNKNOWN
    return kept


def _signatures(base: str, rels: list[str]) -> tuple[list[int], bool]:
    """The signatures of the files, four numbers each in one flat list (see `file_signature`),
    and whether every file could be stat'ed (`_UNKNOWN` stands for one that could not)."""
    stat = os.stat
    sigs: list[int] = []
    add = sigs.extend
    complete = True
    with stat_base(base) as (prefix, fd):
        for rel in rels:
            try:
                st = stat(prefix + rel, dir_fd=fd)
            except OSError:
                add(_UNKNOWN)
                complete = False
                continue
            add((st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns))
    return sigs, complete


# --- what the scanners looked at ------------------------------------------------------------

@dataclass
class _Scanned:
    """What one scanner (a kind) looked at in one scan."""

    paths: list[str] = field(default_factory=list)
    """The files it looked at, in order."""
    sigs: list[int] = field(default_factory=list)
    """Their signatures when it did, four numbers each, in the same order."""
    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The results of those that held something, in the same order; most hold nothing."""
    listing: str | None = None
    """The key of the file list (`RepoFiles.key`) `paths` are all the picked files of."""
    _index: dict[str, int] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def checked(cls, raw: Any, tail: Tail) -> _Scanned:
        """A scanner's entries read back from the cache; ValueError when malformed. Each
        result is checked where it is used: a malformed one is a miss."""
        if (not isinstance(raw, dict) or type(raw.get("paths")) is not list
                or type(raw.get("found")) is not dict
                or not (raw.get("listing") is None or type(raw["listing"]) is str)):
            raise ValueError("malformed entries")
        sigs = tail.take(raw.get("sigs"))
        try:
            if "\0" in "/".join(raw["paths"]):  # the join checks each is a string, in C
                raise ValueError("a NUL in a path")
        except TypeError:
            raise ValueError("malformed entries") from None
        if len(sigs) != 4 * len(raw["paths"]):
            raise ValueError("as many signatures as paths expected")
        return cls(raw["paths"], sigs, raw["found"], raw["listing"])

    def as_json(self, sigs_in_tail: bool) -> dict[str, Any]:
        return {"paths": self.paths, "sigs": len(self.sigs) if sigs_in_tail else self.sigs,
                "found": self.found, "listing": self.listing}

    def _positions(self) -> dict[str, int]:
        if self._index is None:
            self._index = {rel: i for i, rel in enumerate(self.paths)}
        return self._index

    def signature(self, rel: str) -> list[int] | None:
        """The signature `rel` had, None when it was not looked at."""
        i = self._positions().get(rel)
        return None if i is None else self.sigs[4 * i:4 * i + 4]

    def add(self, rel: str, sig: Signature, found: dict[str, Any] | None) -> None:
        """Record a file looked at (again)."""
        i = self._positions().get(rel)
        if i is None:
            self._positions()[rel] = len(self.paths)
            self.paths.append(rel)
            self.sigs.extend(sig)
        else:
            self.sigs[4 * i:4 * i + 4] = sig
        if found:
            self.found[rel] = found
        else:
            self.found.pop(rel, None)

    def cached_result(self, rel: str) -> FileResult | None:
        """The result of `rel` when it held nothing or its stored result is sound, else None."""
        raw = self.found.get(rel)
        if raw is None:
            return FileResult()
        try:
            return _result_from_json(raw)
        except _MALFORMED:
            return None


class FileCache:
    """The cached per-file scan results of one repository, and the listings of its folders
    when it is walked (`folders`), persisted in cache_dir: a file of JSON and signatures, and
    beside it the walk's file list."""

    def __init__(self, cache_dir: Path, repo: Path) -> None:
        self.repo = repo.resolve()
        key = hashlib.sha256(str(self.repo).encode()).hexdigest()[:16]
        self.path = Path(cache_dir) / f"{key}.json"
        self.files_path = Path(cache_dir) / f"{key}.files"
        """The file list of the last walk of the repo: only a rescan that finds a folder
        changed reads it, so it is kept out of the JSON every rescan reads."""
        self.folders = FolderListings()
        self._last: dict[str, _Scanned] = {}
        """What each scanner looked at in the last scan, as the cache holds it."""
        self._this: dict[str, _Scanned] = {}
        """What each scanner looked at in this scan: what the cache will hold."""
        self._rewrite = False
        self._load()

    # --- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("scan cache %s is unreadable (%s); rebuilding it", self.path, exc)
            self._rewrite = True
            return
        try:
            text, tail = split(raw)
            data = json.loads(text)
            if not isinstance(data, dict) or type(data.get("format")) is not int:
                raise ValueError("not a scan cache")
            if (data["format"] != CACHE_FORMAT or data.get("helmq") != helmq.__version__
                    or data.get("repo") != str(self.repo)
                    or data.get("finding_fields") != FINDING_FIELDS):
                log.info("scan cache %s is from another helmq version or repo; rebuilding it",
                         self.path)
                self._rewrite = True
                return
            if not isinstance(data.get("files"), dict):
                raise ValueError("not a scan cache")
            folders = data.get("folders")
            if isinstance(folders, dict):
                folders = {**folders, "sigs": tail.take(folders.get("sigs"))}
            listings = FolderListings.checked(folders, self._load_files)
            scanned = {kind: _Scanned.checked(entries, tail)
                       for kind, entries in data["files"].items()}
            tail.check_all_taken()
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("scan cache %s is corrupt (%s); rebuilding it", self.path, exc)
            self._rewrite = True
            return
        self.folders, self._last = listings, scanned

    def _load_files(self, key: str) -> str | None:
        """The walked file list with this key, None when it is missing or another one."""
        try:
            stored = json.loads(self.files_path.read_bytes())
        except (OSError, ValueError) as exc:
            log.info("the file list of scan cache %s is unreadable (%s); walking again",
                     self.path, exc)
            return None
        if (not isinstance(stored, dict) or stored.get("key") != key
                or type(stored.get("files")) is not str):
            log.info("the file list of scan cache %s is another one; walking again", self.path)
            return None
        return stored["files"]

    def save(self) -> None:
        """Write the cache, without the entries of files this scan did not look at.

        Nothing is written when the scan changed nothing. A failure to write is logged.
        """
        this = {kind: scanned for kind, scanned in self._this.items()
                if scanned.paths or scanned.listing is not None}
        walked = self.folders.changed
        snapshot = self.folders.fresh if self.folders.fresh is not None else self.folders.known
        changed = self._rewrite or walked or this != self._last
        self.folders = FolderListings(snapshot, self._load_files)
        self._last, self._this = this, {}
        self._rewrite = False
        if not changed:
            return
        scanned_sigs = [scanned.sigs for scanned in this.values()]
        tail = packed([snapshot["sigs"], *scanned_sigs] if snapshot is not None else scanned_sigs)
        listings = None
        if snapshot is not None:
            listings = {name: value for name, value in snapshot.items() if name != "files"}
            if tail is not None:
                listings["sigs"] = len(snapshot["sigs"])
            # The file list first: with a list that is missing or another one, the next
            # rescan walks again; with listings that are missing, it walks as well.
            if walked and not write_at_once(self.files_path, json.dumps(
                    {"key": snapshot["key"], "files": snapshot["files"]})):
                listings = None
                tail = packed(scanned_sigs)
        try:
            # dumps, not dump: only the one-shot encoder is the C one (10x faster). ASCII:
            # a name that is not UTF-8 (a lone surrogate) goes through as an escape.
            header = json.dumps({
                "format": CACHE_FORMAT, "helmq": helmq.__version__, "repo": str(self.repo),
                "finding_fields": FINDING_FIELDS, "folders": listings,
                "files": {kind: scanned.as_json(tail is not None)
                          for kind, scanned in this.items()},
            }, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            log.warning("cannot write scan cache %s: %s", self.path, exc)
            return
        write_at_once(self.path, header, tail)

    # --- one file at a time ------------------------------------------------------------------

    def lookup(self, kind: str, rel: str, sig: Signature | None) -> FileResult | None:
        """The cached result of scanner `kind` for file `rel` if its signature is unchanged."""
        last = self._last.get(kind)
        if sig is None or last is None or last.signature(rel) != list(sig):
            return None
        result = last.cached_result(rel)
        if result is not None:
            self._this.setdefault(kind, _Scanned()).add(rel, sig, last.found.get(rel))
        return result

    def store(self, kind: str, rel: str, sig: Signature | None, result: FileResult) -> None:
        """Remember what scanner `kind` found in file `rel` when it had signature `sig`."""
        if sig is not None:
            sig = tuple(_trusted(list(sig)))  # type: ignore[assignment]
            found = _result_to_json(result) if _holds_something(result) else None
            self._this.setdefault(kind, _Scanned()).add(rel, sig, found)

    # --- a whole file list -------------------------------------------------------------------

    def read_changed(self, kind: str, files: RepoFiles, wanted: Callable[[str], bool],
                     read: Callable[[str], tuple[FileResult, bool]]
                     ) -> list[tuple[str, FileResult]]:
        """See `read_all`."""
        last = self._last.get(kind) or _Scanned()
        # The same file list as last time: the same files are picked from it.
        same_list = last.listing == files.key
        paths = last.paths if same_list else [rel for rel in files.names if wanted(rel)]
        # Signatures before any read: a change during one shows next time.
        sigs, complete = _signatures(os.path.join(self.repo, ""), paths)
        kept = _trusted(sigs)
        if same_list and complete and kept is sigs and sigs == last.sigs:  # none recent
            try:
                results = [(rel, _result_from_json(raw)) for rel, raw in last.found.items()]
            except _MALFORMED:
                pass  # read each file whose result is malformed again, below
            else:
                self._this[kind] = last
                return results
        this = _Scanned(paths, kept, {}, files.key)
        out = []
        for i, rel in enumerate(paths):
            sig = sigs[4 * i:4 * i + 4]
            part = None
            if sig != _UNKNOWN and last.signature(rel) == sig:
                part = last.cached_result(rel)
            if part is not None:
                if rel in last.found:
                    this.found[rel] = last.found[rel]
                    out.append((rel, part))
                continue
            part, cacheable = read(rel)
            if not cacheable:
                kept[4 * i:4 * i + 4] = _UNKNOWN
            elif _holds_something(part):
                this.found[rel] = _result_to_json(part)
            if _holds_something(part):
                out.append((rel, part))
        self._this[kind] = this
        return out


def read_all(cache: FileCache | None, kind: str, files: RepoFiles,
             wanted: Callable[[str], bool], read: Callable[[str], tuple[FileResult, bool]]
             ) -> list[tuple[str, FileResult]]:
    """(path, result) of each file of `files` that scanner `kind` wants (by its path) and that
    holds something, in file order. `read(path)` gives a file's result and whether it may be
    cached.

    With a cache, a file whose stat is unchanged is not read: its result comes from the cache.
    When the file list is the one of the last scan, the files wanted then are taken as they
    are, so an unchanged rescan costs a stat of each of them and little more."""
    if cache is not None:
        return cache.read_changed(kind, files, wanted, read)
    out = []
    for rel in files.names:
        if wanted(rel):
            part = read(rel)[0]
            if _holds_something(part):
                out.append((rel, part))
    return out


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
