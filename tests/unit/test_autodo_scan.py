"""Discovery from TODO files in real directories and git repositories, and item identity."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helmq.discovery.autodo_scan import TODO_NAMES, scan_todo_files
from helmq.domain.fingerprint import fingerprint, item_key, normalize_title, slug
from helmq.domain.model import Recurrence
from helmq.errors import InputError
from helmq.grammar.todo_md import parse_todo
from helmq.repos.files import read_text_file, repo_files
from tests.conftest import TESTS, git, git_repo, write

CORPUS = TESTS / "corpus" / "todo-md"





def titles(result) -> list[tuple[str, str]]:
    return [(f.source_file, f.title) for f in result.findings]


# --- scanning ------------------------------------------------------------------------------


def test_a_finding_carries_everything_the_item_needs(tmp_path):
    # Given a repo with a tagged, described, nested TODO item.
    repo = git_repo(tmp_path / "repo")
    write(repo / "pkg" / "TODO.md",
          "# Backlog\n## Lint\n- [ ] Fix imports !p1 @daily tier:script risk:low effort:S "
          "max:30m +auto check:ruff\n  - only in pkg/\n")

    # When it is scanned.
    (finding,) = scan_todo_files(repo).findings

    # Then the finding is complete and its identity follows the contract's recipe.
    root = str(repo.resolve())
    assert finding.fingerprint == fingerprint(root, "pkg/TODO.md", "fix imports")
    assert finding.item_key == f"fix-imports-{finding.fingerprint[:8]}"
    assert (finding.title, finding.source_file, finding.line) == (
        "Fix imports", "pkg/TODO.md", 3)
    assert (finding.priority, finding.recurrence, finding.done) == (1, Recurrence.DAILY, False)
    assert finding.data == {
        "title": "Fix imports", "description": "- only in pkg/", "scope": "Backlog > Lint",
        "source": "todo_md", "repo": root, "checkbox": True, "tier": "script", "risk": "low",
        "effort": "S", "max_minutes": 30, "auto_start": True, "check": "ruff",
    }


def test_every_todo_name_at_any_depth_and_nothing_else(tmp_path):
    repo = git_repo(tmp_path / "repo")
    for name in sorted(TODO_NAMES):
        write(repo / "a" / "b" / name, f"- [ ] from {name}\n")
    write(repo / "NOTES.md", "- [ ] not a todo file\n")
    write(repo / "MYTODO.md", "- [ ] not one either\n")

    result = scan_todo_files(repo)

    assert sorted(titles(result)) == sorted(
        (f"a/b/{name}", f"from {name}") for name in TODO_NAMES)
    assert result.warnings == []


def test_a_gitignored_todo_file_is_not_scanned(tmp_path):
    # Given a tracked TODO.md, an untracked one, and one that .gitignore excludes.
    repo = git_repo(tmp_path / "repo")
    write(repo / ".gitignore", "build/\n")
    write(repo / "TODO.md", "- [ ] tracked\n")
    git(repo, "add", "TODO.md")
    write(repo / "docs" / "TODO.md", "- [ ] untracked\n")
    write(repo / "build" / "TODO.md", "- [ ] ignored\n")

    result = scan_todo_files(repo)

    assert titles(result) == [("TODO.md", "tracked"), ("docs/TODO.md", "untracked")]


def test_outside_git_vendored_and_cache_directories_are_skipped(tmp_path):
    write(tmp_path / "TODO.md", "- [ ] mine\n")
    for skipped in ("node_modules/x", ".venv", "vendor", "third_party/lib", ".git"):
        write(tmp_path / skipped / "TODO.md", "- [ ] theirs\n")

    assert titles(scan_todo_files(tmp_path)) == [("TODO.md", "mine")]


def test_binary_huge_and_non_utf8_files_are_skipped_with_a_warning(tmp_path):
    # Given a repo whose TODO files are broken in three ways, and one good one.
    repo = git_repo(tmp_path / "repo")
    write(repo / "bin" / "TODO.md", b"- [ ] x\n\x00\x01\x02")
    write(repo / "big" / "TODO.md", "- [ ] big\n" + "x" * 2000)
    write(repo / "latin1" / "TODO.md", "- [ ] café\n".encode("latin-1"))
    write(repo / "ok" / "TODO.md", "- [ ] still found\n")

    # When it is scanned with a small size limit.
    result = scan_todo_files(repo, max_bytes=1000)

    # Then the good file is found and each bad one is named in a warning.
    assert titles(result) == [("ok/TODO.md", "still found")]
    assert result.warnings == [
        "big/TODO.md: file is 2010 bytes, over the 1000-byte limit; skipped",
        "bin/TODO.md: file looks binary (a NUL byte in its first 8 KiB); skipped",
        "latin1/TODO.md: file is not UTF-8 text (byte 0xe9 at offset 9); skipped",
    ]


def test_skipped_todo_files_are_listed_with_their_repo(tmp_path):
    # Given a repo with an unreadable TODO file beside a good one
    repo = git_repo(tmp_path / "repo")
    write(repo / "latin1" / "TODO.md", "- [ ] café\n".encode("latin-1"))
    write(repo / "bin" / "TODO.md", b"- [ ] x\n\x00")
    write(repo / "TODO.md", "- [ ] fine\n")

    # When it is scanned
    result = scan_todo_files(repo)

    # Then each skipped file is named with the repo its items carry in data["repo"]
    root = str(repo.resolve())
    assert result.skipped_files == [(root, "bin/TODO.md"), (root, "latin1/TODO.md")]
    assert {f.data["repo"] for f in result.findings} == {root}


def test_every_owned_tag_key_is_in_data_even_when_absent(tmp_path):
    # A removed tag must be cleared on rescan, so an absent tag is an explicit None
    write(tmp_path / "TODO.md", "- [ ] Plain item\n- [ ] Tagged +auto risk:low\n")

    plain, tagged = scan_todo_files(tmp_path).findings

    tags = ("tier", "risk", "effort", "max_minutes", "auto_start", "check")
    assert {k: plain.data.get(k, "absent") for k in tags} == dict.fromkeys(tags)
    assert (tagged.data["auto_start"], tagged.data["risk"], tagged.data["tier"]) == (
        True, "low", None)
    assert set(plain.data) == {"title", "description", "scope", "source", "repo", "checkbox",
                               "tier", "risk", "effort", "max_minutes", "auto_start", "check"}


def test_grammar_warnings_name_the_file_and_line(tmp_path):
    write(tmp_path / "sub" / "TODO.md", "# T\n\n- [ ] Deploy tier:bogus\n")

    result = scan_todo_files(tmp_path)

    assert titles(result) == [("sub/TODO.md", "Deploy")]
    assert result.warnings == [(
        "sub/TODO.md:3: tag `tier:bogus` ignored: "
        "tier must be script | llm_call | vario | claude_session")]


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: write(p / "file", "")])
def test_a_repo_that_is_not_a_directory_is_an_input_error(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        scan_todo_files(path)
    assert caught.value.file == str(path)


def test_the_whole_corpus_scans_like_it_parses(tmp_path):
    # Given every corpus file as a TODO.md in its own directory of one repo.
    repo = git_repo(tmp_path / "repo")
    expected = 0
    for source in sorted(CORPUS.glob("*.md")):
        (repo / source.stem).mkdir()
        shutil.copyfile(source, repo / source.stem / "TODO.md")
        expected += len(parse_todo(source.read_bytes().decode("utf-8-sig")).entries)

    result = scan_todo_files(repo)

    assert len(result.findings) == expected == 897  # the sum of EXPECTED_COUNTS
    assert result.warnings == []
    assert len({f.fingerprint for f in result.findings}) == expected
    assert len({f.item_key for f in result.findings}) == expected


# --- identity ------------------------------------------------------------------------------


def scan_one(repo: Path, text: str) -> dict[str, str]:
    """Fingerprint per title after writing text as the repo's TODO.md."""
    write(repo / "TODO.md", text)
    return {f.title: f.fingerprint for f in scan_todo_files(repo).findings}


def test_fingerprint_survives_moves_and_description_edits_but_not_title_edits(tmp_path):
    # Given a TODO.md with two items.
    before = scan_one(tmp_path, "- [ ] Alpha\n  - first note\n- [ ] Beta\n")

    # When lines move, a heading appears and the description changes.
    moved = scan_one(tmp_path, "# New heading\n\n- [ ] Beta\n- [ ] Alpha\n  - other note\n")
    # And when a title changes.
    renamed = scan_one(tmp_path, "- [ ] Alpha prime\n- [ ] Beta\n")

    assert moved == before
    assert renamed["Beta"] == before["Beta"]
    assert renamed["Alpha prime"] != before["Alpha"]


def test_fingerprint_ignores_case_spacing_and_trailing_punctuation(tmp_path):
    before = scan_one(tmp_path, "- [ ] Update the docs\n")
    after = scan_one(tmp_path, "- [x]   update  THE docs.\n")
    assert list(after.values()) == list(before.values())


def test_duplicate_titles_get_distinct_fingerprints(tmp_path):
    # Given a file where one title appears three times.
    write(tmp_path / "TODO.md", "# A\n- [ ] Retry\n# B\n- [ ] retry\n# C\n- [ ] Retry.\n")

    findings = scan_todo_files(tmp_path).findings

    # Then each occurrence has its own identity; the first keeps the plain fingerprint.
    root = str(tmp_path.resolve())
    assert [f.fingerprint for f in findings] == [
        fingerprint(root, "TODO.md", "retry"),
        fingerprint(root, "TODO.md", "retry", "#2"),
        fingerprint(root, "TODO.md", "retry", "#3"),
    ]
    assert len({f.item_key for f in findings}) == 3


def test_the_same_title_in_two_files_is_two_items(tmp_path):
    write(tmp_path / "a" / "TODO.md", "- [ ] Same\n")
    write(tmp_path / "b" / "TODO.md", "- [ ] Same\n")
    first, second = scan_todo_files(tmp_path).findings
    assert first.fingerprint != second.fingerprint


def test_fingerprint_and_normalized_title():
    assert fingerprint("a", "b") == hashlib.sha256(b"a\x1fb").hexdigest()[:32]
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint("a", "b"))
    assert fingerprint("a", "b") != fingerprint("a b") != fingerprint("ab")
    assert normalize_title("  Fix   THE\tBug.;: ") == "fix the bug"
    assert normalize_title("Straße") == "strasse"


@pytest.mark.parametrize(("title", "expected"), [
    ("Fix the build!", "fix-the-build"),
    ("Café déjà vu — Đà Nẵng, Straße", "cafe-deja-vu-da-nang-strasse"),
    ("--weird__..//name--", "weird-name"),
    ("漢字だけ", "item"),
    ("", "item"),
    ("a" * 39 + " tail", "a" * 39),
])
def test_item_key_slug(title, expected):
    assert item_key(title, "0123456789abcdef") == f"{expected}-01234567"


def test_slug_is_at_most_40_characters_without_double_or_edge_hyphens():
    text = "Implement the hierarchical log structure from HIERARCHICAL_LOG_ANALYSIS.md"
    assert slug(text) == "implement-the-hierarchical-log-structure"
    assert len(slug("x " * 50)) <= 40


def test_item_keys_are_valid_git_branch_names(tmp_path):
    entries = [e for path in sorted(CORPUS.glob("*.md"))
               for e in parse_todo(path.read_text(encoding="utf-8-sig")).entries]
    odd = ["..", "@{u}", "a.lock", "-dash", "tab\there", "x/y", "~^:?*[\\", "ends.", "."]
    for title in [e.title for e in entries[::7]] + odd:
        key = item_key(title, fingerprint(title))
        subprocess.run(["git", "check-ref-format", "--branch", f"helmq/{key}"],
                       capture_output=True, check=True, cwd=tmp_path)


# --- files ---------------------------------------------------------------------------------


def test_repo_files_in_a_subdirectory_of_a_git_repo_are_relative_to_it(tmp_path):
    repo = git_repo(tmp_path / "repo")
    write(repo / "top.txt", "x")
    write(repo / "sub" / "inner" / "a.txt", "x")
    write(repo / "sub" / "b.txt", "x")
    git(repo, "add", ".")
    (repo / "sub" / "b.txt").unlink()  # still in the index, gone from disk

    assert repo_files(repo / "sub") == [Path("inner/a.txt")]


def test_read_text_file_strips_a_bom_and_reports_errors_with_the_path(tmp_path):
    good = write(tmp_path / "good.md", "\ufeff- [ ] x\r\n")
    assert read_text_file(good, max_bytes=100) == "- [ ] x\r\n"

    missing = tmp_path / "missing.md"
    with pytest.raises(InputError) as caught:
        read_text_file(missing, max_bytes=100)
    assert caught.value.file == str(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read file")
