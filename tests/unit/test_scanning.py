"""The conventions rules' validation, the job-level recurrence checks and the progress line;
no store, no process."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from helmq.control.progress import ProgressLine
from helmq.errors import ConfigError
from tests.support.scanning import jobs_from


@pytest.mark.parametrize(("rules", "message"), [
    ("rules: []", "expected a non-empty list of rules"),
    ("rules: [{name: x}]", "a rule needs exactly one of forbid, require_file, max_lines"),
    ("rules: [{name: x, forbid: 'a', max_lines: 3}]", "(it has forbid, max_lines)"),
    ("rules: [{name: x, forbid: '('}]", "invalid regular expression"),
    ("rules: [{name: x, require_file: ../etc/passwd}]", "a path inside the repo"),
    ("rules: [{name: x, max_lines: 0}]", "expected a whole number > 0"),
    ("rules: [{name: x, max_lines: 3}, {name: x, max_lines: 4}]", "rule name 'x' is used twice"),
    ("rules: [{forbid: a}]", "missing key 'name'"),
    ("rules: [{name: x, forbid: a, colour: red}]", "unknown key 'colour'"),
])
def test_bad_conventions_rules_name_file_line_and_key(tmp_path: Path, rules: str, message: str):
    with pytest.raises(ConfigError) as caught:
        jobs_from(tmp_path, f"jobs:\n  conv:\n    discovery:\n      strategy: conventions\n"
                            f"      {rules}\n")
    assert message in str(caught.value)
    assert "jobs.yaml" in str(caught.value) and ":5" in str(caught.value)


def test_rules_only_for_conventions_and_recurrence_checked(tmp_path: Path):
    with pytest.raises(ConfigError, match="only the conventions strategy takes rules"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: autodo_scan, "
                            "rules: [{name: x, max_lines: 3}]}\n")
    with pytest.raises(ConfigError, match="expected one of: daily, weekly, got 'hourly'"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: autodo_scan, "
                            "recurrence: hourly}\n")
    with pytest.raises(ConfigError, match="needs a list of rules"):
        jobs_from(tmp_path, "jobs:\n  j:\n    discovery: {strategy: conventions}\n")


def test_progress_line_is_silent_for_short_work_and_shows_long_work():
    quiet = io.StringIO()
    with ProgressLine(quiet, delay=5.0, tick=0.01) as line:
        line.update("scanning a")
    assert quiet.getvalue() == ""

    log = io.StringIO()
    with ProgressLine(log, delay=0.0, tick=0.01, every=60) as line:
        line.update("scanning job: /repo/a (1/2)")
        time.sleep(0.05)
        line.update("scanning job: /repo/b (2/2)")
        time.sleep(0.05)
    lines = log.getvalue().splitlines()
    # a plain stream gets one line per step, not one per tick
    assert [ln.split(" … ")[0] for ln in lines] == ["scanning job: /repo/a (1/2)",
                                                    "scanning job: /repo/b (2/2)"]


def test_progress_line_rewrites_in_place_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with ProgressLine(tty, delay=0.0, tick=0.01) as line:
        line.update("scanning a long name")
        time.sleep(0.03)
        line.update("scanning b")
        time.sleep(0.03)
    out = tty.getvalue()
    assert "\n" not in out and out.count("\r") >= 3
    assert out.endswith("\r")  # the line is erased at the end
