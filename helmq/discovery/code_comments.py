"""Discovery from code: TODO/FIXME/XXX/HACK/BUG markers inside comments, as Findings."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePath

from helmq.discovery.autodo_scan import OWNED_TAGS, TODO_NAMES
from helmq.discovery.files import read_text_file, repo_files
from helmq.discovery.result import ScanResult
from helmq.domain.comments import CommentSyntax, scan_comments, syntax_for
from helmq.domain.fingerprint import fingerprint, item_key, normalize_title
from helmq.domain.model import Finding
from helmq.errors import InputError

SOURCE = "code_comment"
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
    return any(part in VENDORED_DIRS for part in rel.parts[:-1])


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


def _syntax(path: Path, name: str) -> CommentSyntax | None:
    """The comment syntax by name; for a name without a known one, by its `#!` line."""
    syntax = syntax_for(name)
    if syntax is not None:
        return syntax
    try:
        with path.open("rb") as handle:
            head = handle.read(_SHEBANG_PROBE)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    return syntax_for(name, head.split(b"\n", 1)[0].decode("utf-8", "replace"))


def _file_findings(repo_id: str, rel_path: str, text: str, syntax: CommentSyntax,
                   result: ScanResult) -> None:
    """Add a Finding for every marker in the comments of one file."""
    seen: Counter[tuple[str, str]] = Counter()
    for hit in scan_comments(text, syntax):
        title_id = normalize_title(hit.text)
        seen[hit.marker, title_id] += 1
        count = seen[hit.marker, title_id]
        # The same comment twice in one file: the later ones are told apart by occurrence.
        occurrence = () if count == 1 else (f"#{count}",)
        fp = fingerprint(repo_id, rel_path, hit.marker, title_id, *occurrence)
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


def scan_code_comments(repo: Path, *, max_bytes: int = 2_000_000) -> ScanResult:
    """Every marker in the code comments of the repository's files (git-tracked and
    untracked-not-ignored; every file outside git). Files without a known comment syntax,
    vendored, generated and TODO files are passed over; binary, too big and non-UTF-8 files
    are skipped with a warning and listed in `skipped_files`."""
    if not repo.is_dir():
        problem = "is not a directory" if repo.exists() else "does not exist"
        raise InputError(f"repository path {problem}; pass an existing directory",
                         file=str(repo))
    repo = repo.resolve()
    repo_id = str(repo)
    result = ScanResult()
    for rel in repo_files(repo):
        name = rel.name
        if name in TODO_NAMES or is_vendored(rel) or is_generated(name):
            continue
        path = repo / rel
        syntax = _syntax(path, name)
        if syntax is None:
            continue
        rel_path = rel.as_posix()
        try:
            text = read_text_file(path, max_bytes=max_bytes)
        except InputError as exc:
            result.warnings.append(f"{rel_path}: {exc.reason}")
            result.skipped_files.append((repo_id, rel_path))
            continue
        if is_generated(name, text):
            continue
        _file_findings(repo_id, rel_path, text, syntax, result)
    return result
