"""Which files of a repository discovery looks at, and reading them as text safely."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import overload

from helmq.errors import InputError
from helmq.repos.proc import run_bounded
from helmq.repos.walk import (
    FolderListings,
    in_path_order,
    joined_files,
    listing_key,
    split_files,
    walk,
)
from helmq.repos.worktree import git_argv

GIT_TIMEOUT = 300.0
_BINARY_PROBE = 8192


class RepoFiles(Sequence[Path]):
    """A repository's files in path order: as POSIX paths relative to it (`names`), and as
    Paths made on first use (on Python 3.11 making 9,000 Paths takes longer than an unchanged
    rescan may). `load` gives the names when they are first asked for; a scanner that picked
    its files from a list with the same `key` before need not ask."""

    def __init__(self, names: list[str] | None = None, *,
                 load: Callable[[], list[str]] | None = None, key: str | None = None,
                 paths: list[Path] | None = None) -> None:
        self._names = names
        self._load = load
        self._key = key
        self._paths = paths

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = self._load() if self._load is not None else []
        return self._names

    @property
    def key(self) -> str:
        """A digest of the list: the same list, the same key."""
        if self._key is None:
            self._key = listing_key(joined_files(self.names))
        return self._key

    @functools.cached_property
    def _as_paths(self) -> list[Path]:
        return self._paths if self._paths is not None else [Path(rel) for rel in self.names]

    def __len__(self) -> int:
        return len(self.names)

    @overload
    def __getitem__(self, index: int) -> Path: ...

    @overload
    def __getitem__(self, index: slice) -> list[Path]: ...

    def __getitem__(self, index: int | slice) -> Path | list[Path]:
        return self._as_paths[index]

    def __iter__(self) -> Iterator[Path]:
        return iter(self._as_paths)


def _may_be_in_git_work_tree(root: Path) -> bool:
    """False when git cannot find a work tree at root: no `.git` in root or above it (helmq's
    git commands never follow GIT_DIR: see `git_argv`). Spares a walked tree the start of a
    git process."""
    return any(os.path.lexists(os.path.join(folder, ".git")) for folder in (root, *root.parents))


def _in_git_work_tree(root: Path) -> bool:
    """Whether root lies inside a git work tree that git will read."""
    if not _may_be_in_git_work_tree(root) or shutil.which("git") is None:
        return False
    try:
        probe = run_bounded(git_argv("-C", str(root), "rev-parse", "--is-inside-work-tree"),
                            None, timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise InputError(f"git did not answer within {GIT_TIMEOUT:g} s", file=str(root)) from None
    return probe.returncode == 0 and probe.stdout.strip() == "true"


def _git_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files under root, as git sees them."""
    try:
        listing = run_bounded(
            git_argv("-C", str(root), "ls-files", "-z", "--cached", "--others",
                     "--exclude-standard"), None, timeout=GIT_TIMEOUT, text=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"git ls-files did not finish within {GIT_TIMEOUT:g} s",
                         file=str(root)) from None
    if listing.returncode != 0:
        reason = os.fsdecode(listing.stderr).strip()
        raise InputError(f"git ls-files failed: {reason}", file=str(root))
    prefix = os.path.join(root, "")
    names = {os.fsdecode(name) for name in listing.stdout.split(b"\0") if name}
    # The index still lists files deleted from the work tree, and submodules as entries.
    return sorted((name for name in names if os.path.isfile(prefix + name)), key=in_path_order)


def existing_repo(repo: Path) -> Path:
    """`repo` resolved; `InputError` when it is not an existing directory."""
    if not repo.is_dir():
        problem = "is not a directory" if repo.exists() else "does not exist"
        raise InputError(f"repository path {problem}; pass an existing directory",
                         file=str(repo))
    return repo.resolve()


def repo_listing(root: Path, folders: FolderListings | None = None) -> RepoFiles:
    """The files discovery may read under root; .gitignore is honoured. Outside git the tree
    is walked, and with `folders` a folder unchanged since the last walk is not listed."""
    if _in_git_work_tree(root):
        return RepoFiles(_git_files(root))
    key, joined = walk(root, folders)
    return RepoFiles(load=lambda: split_files(joined()), key=key)


def repo_files(root: Path) -> list[Path]:
    """The files discovery may read under root, relative to it; .gitignore is honoured."""
    return list(repo_listing(root))


def listed_files(root: Path, files: Sequence[Path] | None) -> RepoFiles:
    """`files` (a caller's list of the repo's files) as RepoFiles, else the repo's files."""
    if isinstance(files, RepoFiles):
        return files
    if files is None:
        return repo_listing(root)
    return RepoFiles([rel.as_posix() for rel in files], paths=list(files))


def read_file_bytes(path: str | os.PathLike[str], *, max_bytes: int) -> bytes:
    """The bytes of a text file; `InputError` when it is too big, binary or unreadable."""
    # os.open/os.read, not open(): a scan reads thousands of files, and a buffered file
    # object costs more than the read itself.
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size > max_bytes:
                raise InputError(f"file is {size} bytes, over the {max_bytes}-byte limit; "
                                 "skipped", file=os.fspath(path))
            data = os.read(fd, size + 1)
            while len(data) > size and len(data) <= max_bytes:  # it grew since the fstat
                more = os.read(fd, max_bytes + 1 - len(data))
                if not more:
                    break
                data += more
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}; skipped",
                         file=os.fspath(path)) from exc
    if len(data) > max_bytes:
        raise InputError(f"file is over the {max_bytes}-byte limit; skipped",
                         file=os.fspath(path))
    if b"\0" in data[:_BINARY_PROBE]:
        raise InputError("file looks binary (a NUL byte in its first 8 KiB); skipped",
                         file=os.fspath(path))
    return data


def decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of a file's bytes (a BOM dropped); `InputError` when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "skipped", file=os.fspath(path),
        ) from exc


def read_text_file(path: str | os.PathLike[str], *, max_bytes: int) -> str:
    """The UTF-8 text of a file; `InputError` when it is too big, binary or not UTF-8."""
    return decode_text(read_file_bytes(path, max_bytes=max_bytes), path)
