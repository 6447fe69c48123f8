"""Where the CLI keeps a session's transcript under its config dir."""

from __future__ import annotations

import re
from pathlib import Path

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def project_dir_name(cwd: str | Path) -> str:
    """The CLI's directory name for a working directory: every non-alphanumeric becomes `-`.

    Observed on claude 2.1.332: `/tmp/a b/my.dir_x` → `-tmp-a-b-my-dir-x`.
    """
    return _NOT_ALNUM.sub("-", str(cwd))


def expected_transcript(config_dir: Path, cwd: str | Path, session_id: str) -> Path:
    """`$CLAUDE_CONFIG_DIR/projects/<munged cwd>/<session_id>.jsonl`, by the observed rule."""
    return config_dir / "projects" / project_dir_name(cwd) / f"{session_id}.jsonl"


def find_transcript(config_dir: Path, session_id: str,
                    cwd: str | Path | None = None) -> Path | None:
    """The transcript file that exists: by the rule, else wherever the CLI put it (long paths
    are shortened by rules of its own)."""
    if cwd is not None:
        expected = expected_transcript(config_dir, cwd, session_id)
        if expected.is_file():
            return expected
    return next(iter(sorted((config_dir / "projects").glob(f"*/{session_id}.jsonl"))), None)
