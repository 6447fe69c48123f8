"""The pure parts of benchmarks/scan.py: matching helmq's findings with leasot's, guessing why
they differ, and the goals. (Running it needs the network, rg and npm: not a unit test.)"""

from __future__ import annotations

import pytest

from benchmarks import scan
from helmq.domain.model import Finding


def finding(path: str, line: int, source: str = "code_comment") -> Finding:
    return Finding(fingerprint=f"{path}:{line}", item_key="k", title="t", source_file=path,
                   line=line, data={"source": source, "marker": "TODO"})


def test_compare_matches_py_code_comments_by_file_and_line():
    helmq = [finding("a.py", 1), finding("a.py", 5), finding("b.js", 1),
             finding("TODO.md", 1, source="todo_md")]
    leasot = [{"file": "a.py", "line": 5, "tag": "TODO", "text": "x"},
              {"file": "a.py", "line": 9, "tag": "FIXME", "text": "y"}]
    comparison = scan.compare(helmq, leasot)
    assert (len(comparison.helmq), len(comparison.leasot), comparison.both) == (2, 2, 1)
    assert comparison.only_helmq == [("a.py", 1)]
    assert comparison.only_leasot == [("a.py", 9)]


@pytest.mark.parametrize(("side", "path", "source", "expected"), [
    ("helmq", "a.py", "x = 1  # XXX compat", "trailing comment"),
    ("helmq", "a.py", "## TODO: tidy", "after '##'"),
    ("helmq", "a.py", "# Create it. FIXME: later", "later in the comment line"),
    ("leasot", "a.py", "# fixme: shoving it all here", "not in upper case"),
    ("leasot", "a.py", '    """TODO"""', "one-line docstring"),
    ("leasot", "a.py", "    # TODO:", "without text"),
    ("leasot", "a.py", "   # XXX To diagnose problems use -l debug:", "inside a string"),
    ("leasot", "build/lib/a.py", "# TODO: x", "vendored"),
])
def test_reason_names_the_class_of_a_difference(side, path, source, expected):
    assert expected in scan.reason(side, path, source)


def test_a_marker_leasot_was_not_told_about_is_named_only_when_it_was_not():
    assert "TODO and FIXME only" in scan.reason("helmq", "a.py", "# HACK: around it", "")
    assert "tag first" in scan.reason("helmq", "a.py", "# > XXX Compat", "XXX,HACK,BUG")


def test_goals_pass_and_fail_on_the_best_times():
    met = scan.goals({"helmq_full": 0.29, "helmq_rescan": 0.029, "rg": 0.1})
    assert {g["verdict"] for g in met.values()} == {"PASS"}
    missed = scan.goals({"helmq_full": 0.31, "helmq_rescan": 0.04, "rg": 0.1})
    assert missed["full_vs_rg"]["verdict"] == "FAIL"
    assert missed["rescan_vs_full"]["verdict"] == "FAIL"


def test_leasot_looks_for_helmqs_markers_unless_told_otherwise():
    assert scan.leasot_argv("leasot", "XXX,HACK,BUG") == [
        "leasot", "-x", "-r", "json", "--tags", "XXX,HACK,BUG", "**/*.py"]
    assert scan.leasot_argv("leasot", "") == ["leasot", "-x", "-r", "json", "**/*.py"]
