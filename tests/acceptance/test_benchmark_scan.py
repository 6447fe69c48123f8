"""benchmarks/scan.py as a process: it starts and explains its options."""

from __future__ import annotations

import subprocess
import sys

from benchmarks import scan


def test_the_script_runs_and_explains_itself():
    out = subprocess.run([sys.executable, "benchmarks/scan.py", "--help"], capture_output=True,
                         text=True, check=False, cwd=scan.ROOT)
    assert out.returncode == 0, out.stderr
    assert "--work" in out.stdout and "--rounds" in out.stdout and "--diff" in out.stdout
