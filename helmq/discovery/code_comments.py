"""Discovery from code: TODO/FIXME/XXX/HACK/BUG markers inside comments, as Findings."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath

from helmq.discovery.autodo_scan import OWNED_TAGS, TODO_NAMES, add_file_result, skipped_file
from helmq.discovery.cache import FileCache, read_all
from helmq.discovery.cache_entries import FileResult
from helmq.discovery.result import ScanResult
from helmq.domain.fingerprint import Occurrences, fingerprint, item_key, normalize_title
from helmq.domain.model import Finding, Source
from helmq.errors import InputError
from helmq.grammar.comment_markers import may_hold_marker
from helmq.grammar.comment_syntax import CommentSyntax, syntax_for
from helmq.grammar.comments import scan_comments
from helmq.repos.files import decode_text, existing_repo, listed_files, read_file_bytes

SOURCE = Source.CODE_COMMENT
VENDORED_DIRS = frozenset({"vendor", "third_party", "node_modules", ".venv", "venv",
                           "site-packages", "dist", "build"})
_GENERATED_NAME = re.compile(
    r"(?:\.min\.[^.]+|_pb2(?:_grpc)?\.pyi?|\.pb\.(?:go|cc|h)|\.pb\.gw\.go|\.generated\.[^.]+"
    r"|\.g\.dart|\.designer\.cs)$",
    re.IGNORECASE,
)
_GENERATED_MARK = re.compile(r"@generated|DO NOT EDIT|Code generated")
_GENERATED_HEAD_LINES = 5
_SHEBANG_PROBE = 256


def is_vendored(rel: PurePath) -> bool:
    """Whether any directory of the path is a vendored or build-output directory."""
    return not VENDORED_DIRS.isdisjoint(rel.parts[:-1])


def is_generated(name: str, text: str | None = None) -> bool:
    """Whether a file is generated: by its name, or by a marker in its first five lines."""
    if _GENERATED_NAME.search(name):
        return True
    if text is None:
        return False
    end = -1
    for _ in range(_GENERATED_HEAD_LINES):
        end = text.find("\n", end + 1)
        if end < 0:
            end = len(text)
            break
    return _GENERATED_MARK.search(text, 0, end) is not None


def _shebang_syntax(path: str, name: str) -> CommentSyntax | None:
    """The comment syntax of a file by its `#!` line, if it has one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SHEBANG_PROBE)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    return syntax_for(name, head.split(b"\n", 1)[0].decode("utf-8", "replace"))


def _file_findings(repo_id: str, rel_path: str, text: str, syntax: CommentSyntax,
                   result: FileResult) -> None:
    """Add a Finding for every marker in the comments of one file."""
    occurrence = Occurrences()
    for hit in scan_comments(text, syntax):
        title_id = normalize_title(hit.text)
        fp = fingerprint(repo_id, rel_path, hit.marker, title_id,
                         *occurrence(hit.marker, title_id))
        result.findings.append(Finding(
            fingerprint=fp,
            item_key=item_key(hit.text, fp),
            title=hit.text,
            source_file=rel_path,
            line=hit.line,
            data={
                "title": hit.text,
                "description": "",
                "scope": rel_path,
                "source": SOURCE,
                "repo": repo_id,
                "marker": hit.marker,
                "owner": hit.owner,
                "checkbox": False,
                **dict.fromkeys(OWNED_TAGS),
            },
        ))


def _read_code_file(repo_id: str, path: str, rel_path: str, syntax: CommentSyntax | None,
                    max_bytes: int) -> tuple[FileResult, bool]:
    """The markers in one file's comments (of the syntax its name says, else its `#!` line
    says), and whether that result may be cached."""
    part = FileResult()
    name = os.path.basename(path)
    syntax = syntax or _shebang_syntax(path, name)
    if syntax is None:
        return part, True
    try:
        data = read_file_bytes(path, max_bytes=max_bytes)
        if not may_hold_marker(data):
            # No marker word in any ASCII-compatible encoding, so the bytes are not decoded
            # (nor checked for UTF-8: a file that cannot hold a finding is worth no warning).
            return part, True
        text = decode_text(data, path)
    except InputError as exc:
        return skipped_file(rel_path, exc)
    if not is_generated(name, text):
        _file_findings(repo_id, rel_path, text, syntax, part)
    return part, True


def _wanted_by_name() -> Callable[[str], bool]:
    """Whether a code file may hold comments worth a look, decided by its path alone: a known
    syntax (or none and no suffix, so maybe a `#!` line), not a TODO, generated or vendored
    file."""
    vendored: dict[str, bool] = {}

    def wanted(rel_path: str) -> bool:
        # This runs for every file of the tree: the cheapest tests come first.
        slash = rel_path.rfind("/") + 1
        name = rel_path[slash:]
        if ((syntax_for(name) is None and name.rfind(".") > 0) or name in TODO_NAMES
                or is_generated(name)):
            return False
        folder = rel_path[:slash]
        if folder not in vendored:
            vendored[folder] = not VENDORED_DIRS.isdisjoint(folder.split("/"))
        return not vendored[folder]

    return wanted


def scan_code_comments(repo: Path, *, max_bytes: int = 2_000_000,
                       cache: FileCache | None = None,
                       files: Sequence[Path] | None = None) -> ScanResult:
    """Every marker in the code comments of the repository's files (git-tracked and
    untracked-not-ignored; every file outside git). Files without a known comment syntax,
    vendored, generated and TODO files are passed over; binary, too big and non-UTF-8 files
    that hold a marker word are skipped with a warning and listed in `skipped_files`.

    A file is known by its name; only one without a suffix is opened for its `#!` line (a
    `.txt` or `.png` file never is). With a cache, a file whose stat (mtime, size, inode,
    ctime) is unchanged is not read again (not even its `#!` line). `files` is the repo's file
    list when the caller has it."""
    repo = existing_repo(repo)
    repo_id = str(repo)
    prefix = os.path.join(repo_id, "")

    def read(rel_path: str) -> tuple[FileResult, bool]:
        syntax = syntax_for(rel_path[rel_path.rfind("/") + 1:])
        return _read_code_file(repo_id, prefix + rel_path, rel_path, syntax, max_bytes)

    result = ScanResult()
    for rel_path, part in read_all(cache, f"{SOURCE}:{max_bytes}", listed_files(repo, files),
                                   _wanted_by_name(), read):
        add_file_result(result, repo_id, rel_path, part)
    return result
