"""Which files of a repository discovery looks at, and reading them as text safely."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from helmq.errors import InputError
from helmq.proc import run_bounded

GIT_TIMEOUT = 300.0
SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "vendor",
                          "third_party"})
_BINARY_PROBE = 8192


def _in_git_work_tree(root: Path) -> bool:
    """Whether root lies inside a git work tree that git will read."""
    if shutil.which("git") is None:
        return False
    try:
        probe = run_bounded(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
                            None, timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise InputError(f"git did not answer within {GIT_TIMEOUT:g} s", file=str(root)) from None
    return probe.returncode == 0 and probe.stdout.strip() == "true"


def _git_files(root: Path) -> list[Path]:
    """Tracked and untracked-but-not-ignored files under root, as git sees them."""
    try:
        listing = run_bounded(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard"], None, timeout=GIT_TIMEOUT, text=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"git ls-files did not finish within {GIT_TIMEOUT:g} s",
                         file=str(root)) from None
    if listing.returncode != 0:
        reason = os.fsdecode(listing.stderr).strip()
        raise InputError(f"git ls-files failed: {reason}", file=str(root))
    names = {os.fsdecode(name) for name in listing.stdout.split(b"\0") if name}
    # The index still lists files deleted from the work tree, and submodules as entries.
    return sorted(Path(name) for name in names if (root / name).is_file())


def _walked_files(root: Path) -> list[Path]:
    """Every file under root, minus VCS, dependency and cache directories, in path order.

    Names are joined as strings and made Paths once: this runs over every file of the tree on
    every scan, cached or not."""
    found: list[str] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        try:
            entries = os.scandir(os.path.join(root, folder))
        except OSError:
            continue  # as os.walk: a folder that cannot be listed is passed over
        with entries:
            for entry in entries:
                name = entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if not is_dir:
                    found.append(folder + name)
                elif name not in SKIPPED_DIRS and not entry.is_symlink():
                    folders.append(f"{folder}{name}{os.sep}")
    # Path order (part by part): NUL sorts before any character a name can hold.
    found.sort(key=lambda rel: rel.replace(os.sep, "\0"))
    return [Path(rel) for rel in found]


def existing_repo(repo: Path) -> Path:
    """`repo` resolved; `InputError` when it is not an existing directory."""
    if not repo.is_dir():
        problem = "is not a directory" if repo.exists() else "does not exist"
        raise InputError(f"repository path {problem}; pass an existing directory",
                         file=str(repo))
    return repo.resolve()


def repo_files(root: Path) -> list[Path]:
    """The files discovery may read under root, relative to it; .gitignore is honoured."""
    return _git_files(root) if _in_git_work_tree(root) else _walked_files(root)


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
