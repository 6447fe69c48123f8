"""Jobs files and a repository for the discovery pass tests of every tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from helmq.config.jobs import load_jobs
from helmq.discovery.registry import STRATEGIES
from tests.conftest import make_git_repo, write

CONVENTIONS = """\
jobs:
  conv:
    discovery:
      strategy: conventions
      recurrence: daily
      rules:
        - name: no-print
          forbid: '^\\s*print\\('
          files: ['*.py']
          exclude: ['tests/*']
          message: use logging instead of print
        - name: license
          require_file: LICENSE
        - name: short-modules
          max_lines: 5
          files: '*.py'
"""


def jobs_from(tmp_path: Path, text: str):
    config = write(tmp_path / "jobs.yaml", text)
    return load_jobs(config, strategies=STRATEGIES)


@pytest.fixture(name="app_repo")
def app_repo_fixture(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "app", {
        "app/main.py": "import os\nprint('hi')\n",
        "app/long.py": "".join(f"x{i} = {i}\n" for i in range(8)),
        "app/clean.py": "VALUE = 1\n",
        "tests/test_main.py": "print('tests may print')\n",
        "README.md": "print( not code\n",
    })
