"""File edits proposed by a model, checked and applied inside a worktree only.

An edit names a repo-relative path and either replaces one exact, unique piece of text or
writes the whole file. Every edit is checked before any is applied, so a bad answer changes
nothing: a path that is absolute, climbs out with `..`, goes through a symlink, or lands in
`.git` is refused, as is a search text that is missing or not unique."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from helmq.domain.outcome import FailureClass
from helmq.errors import EditRefused

MAX_EDIT_BYTES = 1_000_000


class FileEdit(BaseModel):
    """One change to one file."""

    path: str = Field(description="repo-relative path, forward slashes")
    search: str | None = Field(
        default=None,
        description="exact text that occurs once in the file and is replaced by `replace`; "
        "omit it to write the whole file with `replace`")
    replace: str = Field(description="the new text (the whole file when `search` is omitted)")


@dataclass(frozen=True)
class Planned:
    path: Path
    rel: str
    text: str


def _target(root: Path, rel: str) -> Path:
    pure = PurePosixPath(rel.replace("\\", "/"))
    if not rel.strip() or pure.is_absolute() or ".." in pure.parts or (
            pure.parts and pure.parts[0] == ".git"):
        raise EditRefused(f"edit of {rel!r} refused: the path must stay inside the repository",
                          failure_class=FailureClass.OUT_OF_SCOPE)
    real_root = root.resolve()
    path = root.joinpath(*pure.parts)
    # A symlink anywhere on the way could lead the write outside the worktree.
    probe = root
    for part in pure.parts:
        probe = probe / part
        if probe.is_symlink():
            raise EditRefused(f"edit of {rel!r} refused: {probe.relative_to(root)} is a "
                              "symlink", failure_class=FailureClass.OUT_OF_SCOPE)
    if not path.resolve().is_relative_to(real_root):
        raise EditRefused(f"edit of {rel!r} refused: it resolves outside the repository",
                          failure_class=FailureClass.OUT_OF_SCOPE)
    return path


def plan_edits(root: Path, edits: list[FileEdit]) -> list[Planned]:
    """Check every edit against the files under `root`; the new text of each file."""
    texts: dict[str, Planned] = {}
    for edit in edits:
        path = _target(root, edit.path)
        rel = path.relative_to(root).as_posix()
        current = texts[rel].text if rel in texts else None
        if edit.search is None:
            new = edit.replace
        else:
            if current is None:
                try:
                    current = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise EditRefused(f"edit of {rel} cannot apply: the file cannot be read "
                                      f"as text ({exc})",
                                      failure_class=FailureClass.BAD_OUTPUT) from None
            found = current.count(edit.search)
            if found != 1:
                why = "does not occur" if found == 0 else f"occurs {found} times"
                raise EditRefused(f"edit of {rel} cannot apply: its search text {why} in the "
                                  "file", failure_class=FailureClass.BAD_OUTPUT)
            new = current.replace(edit.search, edit.replace, 1)
        if len(new.encode("utf-8")) > MAX_EDIT_BYTES:
            raise EditRefused(f"edit of {rel} refused: over {MAX_EDIT_BYTES} bytes",
                              failure_class=FailureClass.BAD_OUTPUT)
        texts[rel] = Planned(path, rel, new)
    return list(texts.values())


def apply_edits(root: Path, edits: list[FileEdit]) -> list[str]:
    """Apply all edits or none; the repo-relative paths written."""
    planned = plan_edits(root, edits)
    for p in planned:
        p.path.parent.mkdir(parents=True, exist_ok=True)
        p.path.write_text(p.text, encoding="utf-8")
    return [p.rel for p in planned]
