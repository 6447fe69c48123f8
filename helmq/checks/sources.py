"""The files of a repository that checks read: listed once, read as text with limits."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from helmq.errors import CheckError, InputError
from helmq.repos import worktree
from helmq.repos.proc import run_bounded
from helmq.repos.worktree import git_argv

MAX_BYTES = 2_000_000
"""Files over this size are skipped: no document or settings file is that big."""
_BINARY_PROBE = 8192
VENDORED_DIRS = frozenset({"node_modules", "vendor", "third_party", ".venv", "venv",
                           "site-packages", "bower_components"})
_WALK_SKIPPED = VENDORED_DIRS | {".git", "__pycache__"}
DOC_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".adoc", ".txt"})
# Release notes and task lists talk about ports and variables of the past and the future.
_NOT_DOCS = ("changelog", "changes", "history", "news", "release", "todo", "license",
             "licence", "copying", "authors", "contributors", "notice", "requirements")
_TEST_DIRS = frozenset({"tests", "test", "__tests__", "testdata", "fixtures", "corpus"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".vue",
    ".svelte", ".go", ".rs", ".rb", ".php", ".java", ".kt", ".kts", ".scala", ".groovy", ".cs",
    ".fs", ".swift", ".c", ".h", ".cc", ".cpp", ".hpp", ".ex", ".exs", ".erl", ".clj", ".lua",
    ".pl", ".r", ".jl", ".dart", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd",
    ".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".json", ".jsonc", ".json5", ".env",
    ".properties", ".tf", ".hcl", ".nix", ".xml", ".gradle", ".sql", ".service", ".mk",
    ".cmake", ".j2", ".jinja", ".tpl", ".tmpl", ".dockerfile",
})
CODE_NAMES = frozenset({"dockerfile", "containerfile", "makefile", "gnumakefile", "procfile",
                        "justfile", "vagrantfile", "gemfile", "rakefile", "caddyfile", ".env"})
BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".icns", ".webp", ".svgz", ".tif", ".tiff",
    ".psd", ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".tar", ".jar",
    ".war", ".whl", ".egg", ".so", ".dylib", ".dll", ".exe", ".o", ".a", ".lib", ".class",
    ".pyc", ".pyo", ".wasm", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4", ".wav",
    ".ogg", ".webm", ".mov", ".avi", ".flac", ".sqlite", ".db", ".bin", ".dat", ".pkl", ".npy",
    ".npz", ".pt", ".onnx", ".h5", ".parquet", ".xlsx", ".docx", ".pptx",
})
_CI = (".github/", ".gitlab/", ".circleci/", ".buildkite/", ".azure-pipelines/")
_CI_NAMES = frozenset({".gitlab-ci.yml", ".travis.yml", "azure-pipelines.yml", "jenkinsfile",
                       "bitbucket-pipelines.yml", "appveyor.yml", ".drone.yml"})
LOCK_FILES = frozenset({"package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
                        "pnpm-lock.yaml", "poetry.lock", "pipfile.lock", "uv.lock", "cargo.lock",
                        "go.sum", "composer.lock", "gemfile.lock", "bun.lockb"})


def tracked_files(root: Path) -> list[str]:
    """Root-relative posix paths of the files git tracks under root, or of all files."""
    if not root.is_dir():
        raise CheckError(f"{root}: no such directory to check; check the repo path")
    try:
        proc = run_bounded(
            git_argv("ls-files", "-z"), root, timeout=worktree.GIT_TIMEOUT, text=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckError(
            f"{root}: `git ls-files -z` did not finish within {worktree.GIT_TIMEOUT:g} s "
            "and was killed; check the repository for a hung lock or file system"
        ) from None
    except OSError:
        proc = None
    if proc is not None and proc.returncode == 0:
        names = [os.fsdecode(name) for name in proc.stdout.split(b"\0") if name]
    else:
        names = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _WALK_SKIPPED]
            base = Path(folder).relative_to(root)
            names.extend((base / name).as_posix() for name in files)
    real_root = root.resolve()
    # A tracked symlink must not lead a fixer to edit a file outside the root.
    return sorted(
        n for n in names if (root / n).is_file() and (root / n).resolve().is_relative_to(real_root)
    )


def is_vendored(rel: str) -> bool:
    """Whether a directory on the path holds someone else's code."""
    return any(part in VENDORED_DIRS for part in PurePosixPath(rel).parts[:-1])


def in_test_data(rel: str) -> bool:
    """Whether the file lives in a tests, fixtures or test data directory."""
    return any(part.lower() in _TEST_DIRS for part in PurePosixPath(rel).parts[:-1])


def is_ci(rel: str) -> bool:
    """Whether the file configures continuous integration rather than the project."""
    return rel.startswith(_CI) or PurePosixPath(rel).name.lower() in _CI_NAMES


def is_text_like(rel: str) -> bool:
    """Whether the file may be text: not vendored, and no known binary suffix."""
    return not is_vendored(rel) and PurePosixPath(rel).suffix.lower() not in BINARY_SUFFIXES


def is_test(rel: str) -> bool:
    """Whether the file is a test, a fixture or test data rather than the project itself."""
    path = PurePosixPath(rel)
    name = path.name.lower()
    return (in_test_data(rel) or name.startswith("test_") or name == "conftest.py"
            or any(mark in name for mark in ("_test.", ".test.", ".spec.")))


def is_env_file(rel: str) -> bool:
    """Whether the file is a dotenv file: `.env`, `.env.production`, `app.env`."""
    name = PurePosixPath(rel).name.lower()
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def is_env_example(rel: str) -> bool:
    """Whether the file documents the environment (`.env.example`, `env.sample`)."""
    name = PurePosixPath(rel).name.lower()
    return "env" in name and any(m in name for m in ("example", "sample", "template", "dist"))


def is_dockerfile(rel: str) -> bool:
    """Whether the file builds a container image: `Dockerfile`, `Dockerfile.dev`."""
    name = PurePosixPath(rel).name.lower()
    return name.startswith(("dockerfile", "containerfile")) or name.endswith(".dockerfile")


def is_compose(rel: str) -> bool:
    """Whether the file is a Docker Compose file: `docker-compose.yml`, `compose.dev.yaml`."""
    name = PurePosixPath(rel).name.lower()
    return "compose" in name and name.endswith((".yml", ".yaml"))


def is_code(rel: str) -> bool:
    """Whether the file is code, configuration or a build script of the project: what runs.
    Vendored code and lock files are not."""
    path = PurePosixPath(rel)
    name = path.name.lower()
    if is_vendored(rel) or name in LOCK_FILES or is_env_example(rel):
        return False
    return (path.suffix.lower() in CODE_SUFFIXES or name in CODE_NAMES or is_env_file(rel)
            or is_dockerfile(rel))


def is_markdown(rel: str) -> bool:
    """Whether links in the file are Markdown links."""
    return rel.lower().endswith((".md", ".markdown"))


def is_project_markdown(rel: str) -> bool:
    """Whether the file is Markdown of the project itself: not vendored, not test data (whose
    links point at whatever the test needs)."""
    return is_markdown(rel) and not is_vendored(rel) and not in_test_data(rel)


def is_doc(rel: str) -> bool:
    """Whether the file is prose for people: Markdown, reST or AsciiDoc, or a README or docs
    text file; release notes, task lists and licences are not."""
    path = PurePosixPath(rel)
    name, suffix = path.name.lower(), path.suffix.lower()
    if (suffix not in DOC_SUFFIXES or is_vendored(rel) or name.startswith(_NOT_DOCS)
            or in_test_data(rel)):
        return False
    if suffix == ".txt":
        return name.startswith("readme") or any(p.lower() in ("doc", "docs") for p in path.parts)
    return True


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str | InputError:
    """The file's UTF-8 text, or why it cannot be read as such (binary, too big, not UTF-8,
    unreadable)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return InputError(f"cannot read file: {exc.strerror}; skipped")
    if len(data) > max_bytes:
        return InputError(f"file is over the {max_bytes}-byte limit; skipped")
    if b"\0" in data[:_BINARY_PROBE]:
        return InputError("file looks binary (a NUL byte in its first 8 KiB); skipped")
    try:
        # Not utf-8-sig: a fixer writes the text back, and a BOM must survive that.
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); skipped")


class SourceTree:
    """A repository's files as checks see them. A file that cannot be read as UTF-8 text
    (binary, too big, not UTF-8, unreadable) is skipped and remembered with the reason."""

    def __init__(self, root: Path, files: Iterable[str] | None = None, *,
                 max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.files = sorted(files) if files is not None else tracked_files(root)
        self.max_bytes = max_bytes
        self.skipped: dict[str, str] = {}

    def text(self, rel: str, *, quiet: bool = False) -> str | None:
        """The file's text, or None when it was skipped; `quiet` skips without remembering,
        for files read only in passing (to see whether a name occurs anywhere)."""
        text = read_text(self.root / rel, self.max_bytes)
        if isinstance(text, str):
            return text
        if not quiet:
            self.skipped[rel] = text.reason
        return None

    def write(self, rel: str, text: str) -> None:
        """Replace the file's text."""
        (self.root / rel).write_bytes(text.encode("utf-8"))
