"""The ruff check: the real `ruff` as a subprocess detects, fixes and fails as it should."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from helmq.checks import get_check
from helmq.checks import ruff as ruff_module
from helmq.errors import CheckError
from tests.support.script_checks import write

# --- ruff -------------------------------------------------------------------------------

RUFF_TOML = '[lint]\nselect = ["F"]\n'


def test_ruff_detects_and_fixes_an_unused_import(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "ruff.toml": RUFF_TOML,
            "pkg/app.py": "import os\nimport sys\n\nprint(sys.argv)\n",
            "clean.py": "print('ok')\n",
        },
    )
    ruff = get_check("ruff")
    problems = ruff.detect(tmp_path)
    assert [(p.file, p.line, p.detail["code"]) for p in problems] == [("pkg/app.py", 1, "F401")]
    assert "`os` imported but unused" in problems[0].message
    assert ruff.scope(problems) == {"pkg/app.py"}

    result = ruff.fix(tmp_path)

    assert (result.fixed, result.unfixed) == (1, [])
    assert (tmp_path / "pkg/app.py").read_text() == "import sys\n\nprint(sys.argv)\n"
    assert ruff.detect(tmp_path) == []


def test_ruff_reports_what_it_cannot_fix(tmp_path: Path) -> None:
    write(tmp_path, {"ruff.toml": RUFF_TOML, "a.py": "import os\nprint(undefined_name)\n"})
    result = get_check("ruff").fix(tmp_path)
    assert result.fixed == 1
    assert [(p.file, p.detail["code"]) for p in result.unfixed] == [("a.py", "F821")]
    assert result.notes == ["ruff fixed 1 of 2 violations"]


def test_ruff_crash_raises_check_error_with_its_stderr(tmp_path: Path) -> None:
    write(tmp_path, {"ruff.toml": "[lint\nselect = \n", "a.py": "x = 1\n"})
    with pytest.raises(CheckError, match=r"(?s)ruff exited 2: .*ruff\.toml.*unclosed table"):
        get_check("ruff").detect(tmp_path)


# --- timeouts ---------------------------------------------------------------------------


def test_a_hung_ruff_is_a_check_error_naming_the_command_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ruff that never finishes (a stuck file system, say)
    write(tmp_path, {"a.py": "import os\n"})
    monkeypatch.setattr(ruff_module, "_ruff", lambda: [sys.executable, "-c",
                                                       "import time; time.sleep(60)"])
    monkeypatch.setattr(ruff_module, "RUFF_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(CheckError) as info:
        get_check("ruff").detect(tmp_path)
    assert time.monotonic() - started < 30
    message = str(info.value)
    assert "`ruff check --output-format json --exit-zero --no-cache .`" in message
    assert "did not finish within 0.5 s" in message
    assert str(tmp_path) in message
