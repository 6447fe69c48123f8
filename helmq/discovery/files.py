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
    """Every file under root, minus VCS, dependency and cache directories."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        base = Path(folder).relative_to(root)
        found.extend(base / name for name in files)
    return sorted(found)


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


def read_text_file(path: Path, *, max_bytes: int) -> str:
    """The UTF-8 text of a file; `InputError` when it is too big, binary or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"file is {size} bytes, over the {max_bytes}-byte limit; skipped",
                             file=str(path))
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}; skipped", file=str(path)) from exc
    if len(data) > max_bytes:  # it grew after the stat
        raise InputError(f"file is over the {max_bytes}-byte limit; skipped", file=str(path))
    if b"\0" in data[:_BINARY_PROBE]:
        raise InputError("file looks binary (a NUL byte in its first 8 KiB); skipped",
                         file=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "skipped", file=str(path),
        ) from exc
