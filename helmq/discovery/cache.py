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
from collections.abc import Callable
from pathlib import Path

import helmq
from helmq.discovery.cache_entries import (
    MALFORMED,
    FileResult,
    Scanned,
    holds_something,
    result_from_json,
    result_to_json,
)
from helmq.discovery.cache_format import FINDING_FIELDS, packed, split, write_at_once
from helmq.discovery.cache_signatures import (
    UNKNOWN,
    Signature,
    file_signature,
    stat_signatures,
    trusted,
)
from helmq.repos.files import RepoFiles
from helmq.repos.walk import FolderListings

log = logging.getLogger(__name__)

CACHE_FORMAT = 3
"""Bump when what a scanner derives from a file changes: older caches are then discarded.
2: code comments take a lone marker's title from the next line; entries leave out empties.
3: walked folders' listings; per scanner its files and their signatures in flat lists (the
numbers after the JSON), the results of only the files that held something (findings as rows),
and the file list they were picked from."""


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
        self._last: dict[str, Scanned] = {}
        """What each scanner looked at in the last scan, as the cache holds it."""
        self._this: dict[str, Scanned] = {}
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
            scanned = {kind: Scanned.checked(entries, tail)
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
            self._this.setdefault(kind, Scanned()).add(rel, sig, last.found.get(rel))
        return result

    def store(self, kind: str, rel: str, sig: Signature | None, result: FileResult) -> None:
        """Remember what scanner `kind` found in file `rel` when it had signature `sig`."""
        if sig is not None:
            sig = tuple(trusted(list(sig)))  # type: ignore[assignment]
            found = result_to_json(result) if holds_something(result) else None
            self._this.setdefault(kind, Scanned()).add(rel, sig, found)

    # --- a whole file list -------------------------------------------------------------------

    def read_changed(self, kind: str, files: RepoFiles, wanted: Callable[[str], bool],
                     read: Callable[[str], tuple[FileResult, bool]]
                     ) -> list[tuple[str, FileResult]]:
        """See `read_all`."""
        last = self._last.get(kind) or Scanned()
        # The same file list as last time: the same files are picked from it.
        same_list = last.listing == files.key
        paths = last.paths if same_list else [rel for rel in files.names if wanted(rel)]
        # Signatures before any read: a change during one shows next time.
        sigs, complete = stat_signatures(os.path.join(self.repo, ""), paths)
        kept = trusted(sigs)
        if same_list and complete and kept is sigs and sigs == last.sigs:  # none recent
            try:
                results = [(rel, result_from_json(raw)) for rel, raw in last.found.items()]
            except MALFORMED:
                pass  # read each file whose result is malformed again, below
            else:
                self._this[kind] = last
                return results
        this = Scanned(paths, kept, {}, files.key)
        out = []
        for i, rel in enumerate(paths):
            sig = sigs[4 * i:4 * i + 4]
            part = None
            if sig != UNKNOWN and last.signature(rel) == sig:
                part = last.cached_result(rel)
            if part is not None:
                if rel in last.found:
                    this.found[rel] = last.found[rel]
                    out.append((rel, part))
                continue
            part, cacheable = read(rel)
            if not cacheable:
                kept[4 * i:4 * i + 4] = UNKNOWN
            elif holds_something(part):
                this.found[rel] = result_to_json(part)
            if holds_something(part):
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
            if holds_something(part):
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
