"""The files of a tree outside git, by a walk that lists again only the folders that changed.

Adding, removing or renaming an entry changes its folder's mtime and ctime, so a folder whose
(mtime, ctime, inode) is the same as at the last walk holds the same names: it is stat'ed, not
listed, and when no folder changed the last walk's file list is the answer. Symlinks are
looked at on every walk, as their target can change without their folder changing."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "vendor",
                          "third_party"})
RECENT_NS = 2_000_000_000
"""A folder changed this shortly before a walk is listed again by the next one: file systems
stamp times in ticks (FAT in 2 s ones), and a change in the tick of a listing keeps its stamp."""
SEPARATOR = "//"
"""Between the paths of a joined file list: no path holds it, as no name is empty."""
_UNTRUSTED = (-1, -1, -1)
"""The signature of a folder to list again next time: no folder has it."""
_SNAPSHOT_LISTS = ("folders", "links", "folder_links")


def in_path_order(rel: str) -> str:
    """The sort key of path order (part by part): NUL sorts before any character of a name."""
    return rel.replace("/", "\0")


def listing_key(joined: str) -> str:
    """A digest of a file list joined by SEPARATOR: the same list, the same key."""
    data = joined.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def joined_files(names: Iterable[str]) -> str:
    """A file list joined by SEPARATOR, as `listing_key` takes it."""
    return SEPARATOR.join(names)


def split_files(joined: str) -> list[str]:
    """The paths of a file list joined by SEPARATOR."""
    return joined.split(SEPARATOR) if joined else []


class FolderListings:
    """A walked tree's folders as they were at the last walk, and as this walk finds them.

    A snapshot holds `folders` in walk order and their `sigs` (st_mtime_ns, st_ctime_ns,
    st_ino of each, in one flat list), the `files` found (joined by SEPARATOR) and their `key`,
    and the symlinks among the files (`links`) or passed over as folders (`folder_links`).
    A rescan that finds no folder changed needs neither the files nor their split: the cache
    keeps them apart, and `load_files(key)` reads them back when they are asked for."""

    def __init__(self, known: dict[str, Any] | None = None,
                 load_files: Callable[[str], str | None] | None = None) -> None:
        self.known = known
        """The last walk's snapshot, None when there was none; `files` maybe not yet read."""
        self.fresh: dict[str, Any] | None = None
        """This walk's snapshot (the known one of the next walk), None before a walk."""
        self._load_files = load_files

    @classmethod
    def checked(cls, snapshot: Any,
                load_files: Callable[[str], str | None] | None = None) -> FolderListings:
        """The listings of a snapshot read back from a cache (without its `files`); ValueError
        when it is not the shape a walk leaves (a hand-edited one may not be)."""
        if snapshot is None:
            return cls(None, load_files)
        if (type(snapshot) is not dict or type(snapshot.get("key")) is not str
                or type(snapshot.get("sigs")) is not list
                or any(type(snapshot.get(key)) is not list for key in _SNAPSHOT_LISTS)
                or snapshot["folders"][:1] != [""]
                or len(snapshot["sigs"]) != 3 * len(snapshot["folders"])):
            raise ValueError("malformed folder listings")
        try:  # the joins check that all are strings, in C
            joined = "/".join(["/".join(snapshot[key]) for key in _SNAPSHOT_LISTS])
        except TypeError:
            raise ValueError("malformed folder listings") from None
        if "\0" in joined:
            raise ValueError("malformed folder listings")
        return cls(snapshot, load_files)

    def known_files(self) -> str | None:
        """The last walk's files (joined), None when there was none or the cache lost them."""
        if self.known is None:
            return None
        if "files" not in self.known and self._load_files is not None:
            joined = self._load_files(self.known["key"])
            if joined is not None and "\0" not in joined:
                self.known["files"] = joined
        return self.known.get("files")

    @property
    def changed(self) -> bool:
        """Whether this walk saw the tree otherwise than the last one."""
        return self.fresh is not None and self.fresh is not self.known and self.fresh != self.known


def _list_folder(path: str) -> tuple[list[str], list[str]] | None:
    """A folder's (names, symlinks), None when it cannot be listed. Names are in path order, a
    subfolder's with a trailing `/`; skipped folders are left out."""
    try:
        entries = os.scandir(path)
    except OSError:
        return None  # as os.walk: a folder that cannot be listed is passed over
    names: list[str] = []
    links: list[str] = []
    with entries:
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                links.append(name)  # what it is depends on its target, which may change
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                names.append(name)
            elif name not in SKIPPED_DIRS:
                names.append(name + "/")
    names.sort(key=in_path_order)
    links.sort()
    return names, links


@contextlib.contextmanager
def stat_base(base: str) -> Iterator[tuple[str, int | None]]:
    """(prefix, dir_fd) to stat a path under the folder base with: `os.stat(prefix + rel,
    dir_fd=dir_fd)`. Relative to the open folder where the platform can, so the kernel
    resolves a shorter path: a tenth of a stat saved, thousands of times."""
    if os.stat not in os.supports_dir_fd:
        yield base, None
        return
    try:
        fd = os.open(base, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield base, None
        return
    try:
        yield "", fd
    finally:
        os.close(fd)


def _folder_signatures(base: str, folders: list[str]) -> tuple[list[int], bool]:
    """(st_mtime_ns, st_ctime_ns, st_ino) of each folder in one flat list, and whether each
    could be stat'ed (`_UNTRUSTED` stands for one that could not)."""
    stat = os.stat
    now: list[int] = []
    add = now.extend
    complete = True
    with stat_base(base) as (prefix, fd):
        for folder in folders:
            try:
                st = stat(prefix + folder or ".", dir_fd=fd)
            except OSError:
                add(_UNTRUSTED)
                complete = False
                continue
            add((st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return now, complete


def _links_unchanged(base: str, snapshot: dict[str, Any]) -> bool:
    """Whether every symlink of the snapshot still points to a file, or to a folder, as it did."""
    isdir = os.path.isdir
    return (not any(isdir(base + link) for link in snapshot["links"])
            and all(isdir(base + link) for link in snapshot["folder_links"]))


def _records(snapshot: dict[str, Any]) -> dict[str, list[Any]]:
    """folder -> [st_mtime_ns, st_ctime_ns, st_ino, names, symlinks] from a snapshot, each
    listing as `_list_folder` gives it: what a walk reuses of a folder that did not change.
    KeyError when the snapshot does not hold together (a file outside its folders)."""
    folders, sigs = snapshot["folders"], snapshot["sigs"]
    names: dict[str, list[str]] = {folder: [] for folder in folders}
    links: dict[str, list[str]] = {folder: [] for folder in folders}
    for folder in folders[1:]:  # a folder is walked into from its parent, walked before it
        parent = folder[:folder.rfind("/", 0, -1) + 1]
        names[parent].append(folder[len(parent):])
    symlinks = set(snapshot["links"])
    for rel in split_files(snapshot["files"]):
        if rel not in symlinks:
            slash = rel.rfind("/") + 1
            names[rel[:slash]].append(rel[slash:])
    for rel in (*symlinks, *snapshot["folder_links"]):
        slash = rel.rfind("/") + 1
        links[rel[:slash]].append(rel[slash:])
    if any("" in listed for listed in names.values()):  # a path ending in `/`
        raise KeyError("a file without a name")
    return {folder: [*sigs[3 * i:3 * i + 3], sorted(names[folder], key=in_path_order),
                     sorted(links[folder])]
            for i, folder in enumerate(folders)}


def _walk(base: str, known: dict[str, list[Any]],
          stated: dict[str, list[int]]) -> dict[str, Any]:
    """The snapshot of a walk of the tree under base, which lists a folder unless its `known`
    record is up to date. `stated` holds the signatures of folders stat'ed just before."""
    folders: list[str] = []
    sigs: list[int] = []
    links: list[str] = []
    folder_links: list[str] = []
    # A change in the clock tick of a listing may leave the folder's mtime as it was: a folder
    # changed that shortly before is listed again next time.
    trusted_before = time.time_ns() - RECENT_NS

    def names_in(folder: str) -> list[str] | None:
        path = base + folder
        folders.append(folder)
        sig = stated.get(folder)
        if sig is None:
            try:
                st = os.stat(path)  # before the listing: a change during it shows next time
            except OSError:
                sigs.extend(_UNTRUSTED)
                return None
            sig = [st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        record = known.get(folder)
        if record is None or record[:3] != sig:
            listed = _list_folder(path)
            if listed is None:
                sigs.extend(_UNTRUSTED)  # tried again next time
                return None
            record = [*sig, *listed]
        sigs.extend(sig if sig[0] < trusted_before else _UNTRUSTED)
        as_files = []
        for link in record[4]:  # a symlink to a folder is passed over, any other is a file
            if os.path.isdir(path + link):
                folder_links.append(folder + link)
            else:
                links.append(folder + link)
                as_files.append(link)
        return sorted([*record[3], *as_files], key=in_path_order) if as_files else record[3]

    found: list[str] = []
    top = names_in("")
    stack = [("", iter(top))] if top is not None else []
    while stack:  # depth first, each folder's names in order: files come out in path order
        folder, names = stack[-1]
        for name in names:
            if name[-1] != "/":
                found.append(folder + name)
                continue
            inner = names_in(folder + name)
            if inner is not None:
                stack.append((folder + name, iter(inner)))
                break
        else:
            stack.pop()
    joined = SEPARATOR.join(found)
    return {"folders": folders, "sigs": sigs, "files": joined, "key": listing_key(joined),
            "links": links, "folder_links": folder_links}


def walk(root: Path, folders: FolderListings | None = None) -> tuple[str, Callable[[], str]]:
    """The key of the list of every file under root, minus VCS, dependency and cache
    directories, and a function giving the list (in path order, joined by SEPARATOR).

    With `folders`, a folder unchanged since the last walk is stat'ed, not listed; when none
    changed, the list is the last walk's, read when asked for. `folders.fresh` is then this
    walk's snapshot."""
    base = os.path.join(root, "")
    if folders is None:
        snapshot = _walk(base, {}, {})
        return snapshot["key"], lambda: snapshot["files"]
    records: dict[str, list[Any]] = {}
    stated: dict[str, list[int]] = {}
    known = folders.known
    if known is not None:
        now, complete = _folder_signatures(base, known["folders"])
        if complete and now == known["sigs"] and _links_unchanged(base, known):
            folders.fresh = known

            def files() -> str:
                joined = folders.known_files()
                if joined is None:  # the cache lost them: walk again, and keep that walk
                    folders.fresh = _walk(base, {}, {})
                    joined = folders.fresh["files"]
                return joined

            return known["key"], files
        stated = {folder: now[3 * i:3 * i + 3] for i, folder in enumerate(known["folders"])
                  if now[3 * i + 2] != -1}  # the walk need not stat them again
        if folders.known_files() is not None:
            try:
                records = _records(known)
            except KeyError:  # edited by hand
                log.warning("the folder listings of %s in the scan cache are inconsistent; "
                            "listing every folder", root)
    snapshot = folders.fresh = _walk(base, records, stated)
    return snapshot["key"], lambda: snapshot["files"]
