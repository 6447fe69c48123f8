"""TODO markers in code comments: the per-language scanner, and discovery over real
directories and git repositories."""

from __future__ import annotations

import time

import pytest

from helmq.discovery.autodo_scan import OWNED_TAGS
from helmq.discovery.code_comments import SOURCE, scan_code_comments
from helmq.domain.fingerprint import fingerprint, item_key
from helmq.errors import InputError
from helmq.grammar import comment_lexer as lexer
from helmq.grammar import comment_syntax as c
from helmq.grammar.comment_markers import last_marker_end, may_hold_marker
from helmq.grammar.comment_syntax import syntax_for
from helmq.grammar.comments import CommentHit, scan_comments
from tests.conftest import git, git_repo, write


def titles(text: str, filename: str) -> list[tuple[str, str]]:
    syntax = syntax_for(filename)
    assert syntax is not None, filename
    return [(hit.marker, hit.text) for hit in scan_comments(text, syntax)]


# --- the scanner, per language ---------------------------------------------------------------

LANGUAGE_CASES = [
    # Python: `#` comments, not `#` in strings, never docstrings.
    ("a.py", 'x = "# TODO: in a string"  # TODO: real one\n', [("TODO", "real one")]),
    ("a.py", "s = '# FIXME: single'\n# FIXME: after\n", [("FIXME", "after")]),
    ("a.py", 'def f():\n    """TODO: docstring\n    # HACK: still docstring\n    """\n'
             "    # HACK: code\n", [("HACK", "code")]),
    ("a.py", "s = '''\n# XXX: triple\n'''  # XXX: after triple\n", [("XXX", "after triple")]),
    ("a.py", 's = "a \\" # TODO: escaped quote"\n', []),
    ("a.py", "TODO = 1  # normal code uses the word\nprint(TODO)\n", []),
    # JavaScript / TypeScript: `//` and `/* */`, not inside strings or template literals.
    ("a.js", 'const u = "http://example.com/a"; // TODO: after url\n', [("TODO", "after url")]),
    ("a.ts", "const u = 'https://x//TODO: no';\nlet t = `\n// TODO: template\n`;\n", []),
    ("a.tsx", "/* FIXME: block */ const a = 1;\n", [("FIXME", "block")]),
    ("a.js", "/**\n * Docs.\n * BUG(carol): second line of a block\n */\n",
     [("BUG", "second line of a block")]),
    # Go: raw strings in backticks and runes.
    ("a.go", "var s = `\n// TODO: raw\n`\nvar r = '\"' // TODO: go\n", [("TODO", "go")]),
    # Rust: raw strings with hashes, lifetimes are not strings.
    ("a.rs", "fn f<'a>(x: &'a str) {} // TODO: after lifetime\n"
             "let s = r#\"// TODO: raw \"quoted\"\"#;\n", [("TODO", "after lifetime")]),
    # C / C++ and Java.
    ("a.c", 'char *s = "/* TODO: no */"; /* TODO: c block */\n', [("TODO", "c block")]),
    ("a.cpp", 'auto s = R"x(// TODO: raw)x"; // XXX: cpp\n', [("XXX", "cpp")]),
    ("A.java", 'String s = """\n// TODO: text block\n"""; // HACK: java\n',
     [("HACK", "java")]),
    # Shell: `#` only at the start of a word.
    ("a.sh", 'echo "# TODO: no" ${#arr} # TODO: shell\n', [("TODO", "shell")]),
    ("a.sh", "# TODO: top\necho ${#arr} $# TODO: not a comment\n", [("TODO", "top")]),
    # YAML / TOML.
    ("a.yaml", "key: 'a # TODO: no'\nother: it's # TODO: yaml\n# FIXME: top\n",
     [("TODO", "yaml"), ("FIXME", "top")]),
    ("a.toml", 'k = "# TODO: no" # TODO: toml\n', [("TODO", "toml")]),
    # SQL.
    ("a.sql", "SELECT '-- TODO: no', 'it''s' -- TODO: sql\n/* BUG: block */\n",
     [("TODO", "sql"), ("BUG", "block")]),
    # HTML and Markdown: only `<!-- -->`.
    ("a.html", "<p>TODO: text</p>\n<!-- TODO: html -->\n", [("TODO", "html")]),
    ("README.md", "# TODO: a heading\n<!--\n  FIXME: spans\n  lines -->\n",
     [("FIXME", "spans")]),
    # Others.
    ("a.rb", "s = '# TODO: no' # TODO: ruby\n=begin\nHACK: block\n=end\n",
     [("TODO", "ruby"), ("HACK", "block")]),
    ("a.lua", "s = '-- TODO: no' -- TODO: lua\n--[[ XXX: long ]]\n",
     [("TODO", "lua"), ("XXX", "long")]),
    ("a.css", 'a { content: "/* TODO: no */"; } /* TODO: css */\n', [("TODO", "css")]),
    ("Dockerfile", "# TODO: pin\nRUN echo '# TODO: no'\n", [("TODO", "pin")]),
    ("Makefile", "all: # FIXME: make\n", [("FIXME", "make")]),
]


@pytest.mark.parametrize(("filename", "source", "expected"), LANGUAGE_CASES)
def test_markers_are_found_in_comments_only(filename, source, expected):
    assert titles(source, filename) == expected


@pytest.mark.parametrize(("filename", "source", "expected"), LANGUAGE_CASES)
def test_the_slow_lexer_for_unknown_token_starts_finds_the_same(filename, source, expected,
                                                                 monkeypatch):
    monkeypatch.setattr(lexer, "_start_chars", lambda alternatives: None)
    lexer.lexer_for.cache_clear()
    try:
        assert titles(source, filename) == expected
    finally:
        lexer.lexer_for.cache_clear()


def test_owner_title_line_and_column():
    text = "x = 1\n    # TODO(alice): fix   the\tthing  \n"
    assert scan_comments(text, c.PYTHON) == [CommentHit("TODO", "alice", "fix the thing", 2, 7)]


@pytest.mark.parametrize(("comment", "expected"), [
    ("# TODO: x", ("TODO", None, "x")),
    ("# TODO x", ("TODO", None, "x")),
    ("# TODO - x", ("TODO", None, "x")),
    ("# TODO(bob) x", ("TODO", "bob", "x")),
    ("# TODO(): x", ("TODO", None, "x")),
    ("#FIXME:x", ("FIXME", None, "x")),
    ("# TODO; x", ("TODO", None, "x")),  # a mistyped colon (sqlalchemy, scipy)
])
def test_marker_forms(comment, expected):
    [hit] = scan_comments(comment + "\n", c.PYTHON)
    assert (hit.marker, hit.owner, hit.text) == expected


@pytest.mark.parametrize("comment", [
    "# todo: lower case", "# Todo: mixed", "# TODOS: plural", "# MY_TODO: prefix",
    "# XXXX: four", "# TODO", "# TODO:", "# TODO(alice):  ", "# TODO-1: dash", "# BUG.",
])
def test_not_a_marker(comment):
    assert scan_comments(comment + "\nx = 1\n", c.PYTHON) == []
    # Also past the quick whole-file check: a real marker elsewhere in the file.
    hits = scan_comments("# TODO: real\n" + comment + "\n", c.PYTHON)
    assert [(h.marker, h.text, h.line) for h in hits] == [("TODO", "real", 1)]


@pytest.mark.parametrize(("source", "expected"), [
    ("# see the TODO list for more\n", []),
    ("# Given a TODO item.\n", []),
    ("# this is a HACK because of x\n", []),
    ("# Later, TODO: tidy\n", [("TODO", "tidy")]),
    ("# and a FIXME(bob) here\n", [("FIXME", "here")]),
    ("# see TODO; later\n", []),
    ("x = 1  # TODO tidy\n", [("TODO", "tidy")]),
    ("## TODO tidy\n", [("TODO", "tidy")]),
])
def test_a_bare_marker_in_the_middle_of_prose_is_not_a_finding(source, expected):
    assert titles(source, "a.py") == expected


def test_a_bare_marker_after_block_decoration_is_a_finding():
    assert titles("/*\n * TODO tidy\n */\n", "a.c") == [("TODO", "tidy")]
    assert titles("<!--\n  TODO tidy -->\n", "a.html") == [("TODO", "tidy")]


def test_a_block_comment_spanning_lines_reports_the_marker_line():
    text = "int a;\n/*\n * first\n * TODO: third line\n */\nint b; // HACK: six\n"
    hits = scan_comments(text, c.C)
    assert [(h.marker, h.text, h.line) for h in hits] == [("TODO", "third line", 4),
                                                          ("HACK", "six", 6)]


def test_an_unclosed_block_comment_or_string_runs_to_the_end():
    assert titles("/* never closed\n TODO: inside\n", "a.c") == [("TODO", "inside")]
    assert titles('s = """never closed\n# TODO: inside string\n', "a.py") == []


def test_the_comment_text_stops_at_the_block_closer():
    assert titles("/* TODO: tidy */ int x; // later\n", "a.c") == [("TODO", "tidy")]
    assert titles("<!-- TODO: tidy --><p>text</p>\n", "a.html") == [("TODO", "tidy")]


@pytest.mark.parametrize(("filename", "source", "expected"), [
    # Found by comparing with leasot on SQLAlchemy: the title is on the comment line below.
    ("a.py", "    # TODO:\n    # somehow get a fixture here\n    yield\n",
     [("TODO", "somehow get a fixture here", 1)]),
    ("a.py", "x = 1  # FIXME\n## the real text\n", [("FIXME", "the real text", 1)]),
    ("a.c", "/* TODO:\n * add mmap support\n */\n", [("TODO", "add mmap support", 1)]),
    ("a.html", "<!-- XXX:\n  fix the layout -->\n", [("XXX", "fix the layout", 1)]),
    # Nothing to take: code, an empty comment, another marker, the end of the file.
    ("a.py", "# TODO:\nx = 1\n# not this\n", []),
    ("a.py", "# TODO:\n#\n", []),
    ("a.py", "# TODO:\n# FIXME: its own item\n", [("FIXME", "its own item", 2)]),
    ("a.py", "# TODO:", []),
    ("a.c", "/* TODO: */\n// not a continuation of a closed block\n", []),
    # Only a marker that heads its comment line, and not an `XXX(remark)` aside.
    ("a.h", "/* @param width TODO:\n * \\n\n */\n", []),
    ("a.h", "/*\n * XXX(See the design notes.)\n * @tparam T a type\n */\n", []),
])
def test_a_lone_marker_takes_its_title_from_the_comment_line_below(filename, source,
                                                                    expected):
    syntax = syntax_for(filename)
    assert [(h.marker, h.text, h.line) for h in scan_comments(source, syntax)] == expected


@pytest.mark.parametrize(("text", "end"), [
    ("TODO", 4), ("x TODO y", 6), ("FIXME: a\nXXX b", 12), ("é HACK", 6), ("(BUG)", 4),
    ("DEBUG MY_TODO TODOS XXXX todo HACKS", -1), ("", -1),
])
def test_last_marker_end_finds_whole_upper_case_words(text, end):
    assert last_marker_end(text) == end
    assert may_hold_marker(text.encode()) == (end >= 0)


def test_a_marker_after_a_non_ascii_byte_may_be_there():
    # Bytes cannot tell a letter (`éTODO`) from punctuation (`—TODO`): both are kept.
    assert may_hold_marker("éTODO".encode()) and may_hold_marker("—TODO".encode())


def test_every_syntax_lexes_on_the_fast_path():
    # A syntax whose token starts cannot be worked out falls back to trying every alternative
    # at every character: still right, but several times slower.
    syntaxes = {id(s): s for s in [*c.EXTENSIONS.values(), *c.FILENAMES.values()]}.values()
    for syntax in syntaxes:
        starts = [*(opener for opener, _ in syntax.block), *syntax.line, *syntax.strings]
        assert lexer._start_chars(starts) is not None, syntax.name


def test_line_comments_without_a_marker_between_hits_change_nothing():
    lines = []
    for n in range(300):
        lines.append(f"x = '# TODO: no {n}'  # plain DEBUG note {n}")
        if n % 50 == 0:
            lines.append(f"# HACK: item {n}")
    hits = scan_comments("\n".join(lines) + "\n", c.PYTHON)
    assert [(h.text, h.line) for h in hits] == [
        (f"item {n}", n + n // 50 + 2) for n in range(0, 300, 50)]


@pytest.mark.parametrize(("name", "first_line", "expected"), [
    ("x.py", "", c.PYTHON), ("X.PY", "", c.PYTHON), ("a.min.js", "", c.JAVASCRIPT),
    ("Dockerfile", "", c.DOCKERFILE), ("Dockerfile.dev", "", c.DOCKERFILE),
    ("Makefile", "", c.MAKEFILE), ("a.yml", "", c.YAML), ("a.unknown", "", None),
    ("LICENSE", "", None), ("run", "#!/bin/bash -e", c.SHELL),
    ("tool", "#!/usr/bin/env python3", c.PYTHON),
    ("tool", "#!/usr/bin/env -S node --x", c.JAVASCRIPT),
    ("tool", "#!/usr/bin/perl", None),
])
def test_syntax_for(name, first_line, expected):
    assert syntax_for(name, first_line) == expected


def test_every_listed_extension_has_a_syntax():
    for name in (".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".c",
                 ".h", ".cc", ".cpp", ".hpp", ".java", ".kt", ".sh", ".bash", ".zsh", ".yml",
                 ".yaml", ".toml", ".sql", ".html", ".htm", ".xml", ".md", ".css", ".scss", ".rb",
                 ".php", ".swift", ".lua"):
        assert syntax_for("f" + name) is not None, name


def test_scanning_a_large_file_is_fast():
    # 2 MB of Python with strings, comments and a marker on every 100th line.
    lines = []
    for n in range(40_000):
        if n % 100 == 0:
            lines.append(f"    # TODO: item {n}")
        else:
            lines.append(f'    value_{n} = call("text # not a comment", x)  # note')
    text = "\n".join(lines) + "\n"
    start = time.perf_counter()
    hits = scan_comments(text, c.PYTHON)
    elapsed = time.perf_counter() - start
    assert len(hits) == 400
    assert hits[1].line == 101
    assert elapsed < 2.0, elapsed


# --- discovery over a repository -------------------------------------------------------------

def test_a_finding_carries_everything_the_item_needs(tmp_path):
    repo = git_repo(tmp_path / "repo")
    write(repo / "pkg" / "mod.py", "import os\n\n\ndef f():\n    # TODO(alice): Fix imports\n")
    result = scan_code_comments(repo)
    [finding] = result.findings
    root = str(repo.resolve())
    assert finding.fingerprint == fingerprint(root, "pkg/mod.py", "TODO", "fix imports")
    assert finding.item_key == item_key("Fix imports", finding.fingerprint)
    assert (finding.title, finding.source_file, finding.line, finding.done) == (
        "Fix imports", "pkg/mod.py", 5, False)
    assert finding.priority is None and finding.recurrence is None
    assert finding.data == {
        "title": "Fix imports", "description": "", "scope": "pkg/mod.py",
        "source": SOURCE, "repo": root, "marker": "TODO", "owner": "alice", "checkbox": False,
        **dict.fromkeys(OWNED_TAGS),
    }
    assert SOURCE == "code_comment"
    assert result.warnings == [] and result.skipped_files == []


def test_fingerprint_survives_moving_and_reindenting_but_not_retitling(tmp_path):
    repo = tmp_path / "repo"
    path = write(repo / "a.py", "def f():\n    # TODO: handle errors\n    pass\n")
    [before] = scan_code_comments(repo).findings
    write(path, "import sys\n\n\nclass A:\n    def f(self):\n"
                "            #   TODO:   Handle   errors.\n            pass\n")
    [moved] = scan_code_comments(repo).findings
    assert moved.line == 6 and before.line == 2
    assert moved.fingerprint == before.fingerprint
    write(path, "# FIXME: handle errors\n")
    [other_marker] = scan_code_comments(repo).findings
    write(path, "# TODO: handle all errors\n")
    [retitled] = scan_code_comments(repo).findings
    assert len({before.fingerprint, other_marker.fingerprint, retitled.fingerprint}) == 3


def test_identical_comments_in_one_file_are_distinct_items(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "a.go", "// TODO: check err\nx()\n// TODO: check err\ny()\n// TODO: Check err.\n")
    write(repo / "b.go", "// TODO: check err\n")
    findings = scan_code_comments(repo).findings
    root = str(repo.resolve())
    assert [f.fingerprint for f in findings] == [
        fingerprint(root, "a.go", "TODO", "check err"),
        fingerprint(root, "a.go", "TODO", "check err", "#2"),
        fingerprint(root, "a.go", "TODO", "check err", "#3"),
        fingerprint(root, "b.go", "TODO", "check err"),
    ]
    assert len({f.item_key for f in findings}) == 4


def test_code_fingerprints_differ_from_todo_md_fingerprints(tmp_path):
    from helmq.discovery.autodo_scan import scan_todo_files

    repo = tmp_path / "repo"
    write(repo / "TODO.md", "- [ ] fix it\n<!-- TODO: a note in the TODO file -->\n")
    write(repo / "a.py", "# TODO: fix it\n")
    [code] = scan_code_comments(repo).findings
    [todo] = scan_todo_files(repo).findings
    assert code.source_file == "a.py"  # TODO.md is not read as code
    assert code.fingerprint != todo.fingerprint


def test_vendored_generated_and_unknown_files_are_passed_over(tmp_path):
    repo = tmp_path / "repo"
    marker = "// TODO: found\n"
    write(repo / "src" / "keep.js", marker)
    for vendored in ("vendor", "third_party", "node_modules", "dist", "build", "site-packages",
                     "venv"):
        write(repo / "src" / vendored / "x.js", marker)
    write(repo / "app.min.js", marker)
    write(repo / "api_pb2.py", "# TODO: found\n")
    write(repo / "api.pb.go", marker)
    write(repo / "x.generated.ts", marker)
    write(repo / "head.go", "// Code generated by protoc. DO NOT EDIT.\n" + marker)
    write(repo / "head.py", "#!/usr/bin/env python\n\n\n# @generated\n# TODO: found\n")
    write(repo / "late.py", "\n" * 5 + "# @generated\n# TODO: late marker counts\n")
    write(repo / "notes.txt", "TODO: no syntax\n")
    write(repo / "doc.md", "<!-- TODO: doc -->\n")
    result = scan_code_comments(repo)
    assert sorted(f.source_file for f in result.findings) == ["doc.md", "late.py", "src/keep.js"]
    assert result.warnings == [] and result.skipped_files == []


def test_an_extensionless_script_is_read_by_its_shebang(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "bin" / "deploy", "#!/usr/bin/env bash\necho '# TODO: no' # TODO: yes\n")
    write(repo / "bin" / "blob", b"\x7fELF\0\0 TODO: no")
    result = scan_code_comments(repo)
    assert [(f.source_file, f.title) for f in result.findings] == [("bin/deploy", "yes")]
    assert result.skipped_files == []


def test_a_file_with_an_unknown_suffix_is_not_probed_for_a_shebang(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "notes.txt", "#!/bin/sh\n# TODO: a text file, not a script\n")
    write(repo / "run", "#!/bin/sh\n# TODO: a script\n")
    assert [f.source_file for f in scan_code_comments(repo).findings] == ["run"]


def test_a_file_that_cannot_hold_a_marker_is_not_decoded(tmp_path):
    # Given a Latin-1 file without any marker word: no encoding of it can hold a finding
    repo = tmp_path / "repo"
    write(repo / "latin.py", "# caf\xe9 DEBUG\n".encode("latin-1"))
    write(repo / "ok.py", "# TODO: ok\n")
    result = scan_code_comments(repo)
    assert [f.title for f in result.findings] == ["ok"]
    assert result.warnings == [] and result.skipped_files == []


def test_the_walked_listing_is_in_path_order_and_skips_what_it_should(tmp_path):
    from pathlib import Path

    from helmq.repos.files import repo_files

    repo = tmp_path / "repo"
    for rel in ("a/b.py", "a-b/x.py", "a.b", "z.py", "node_modules/m.js", ".git/config",
                "__pycache__/c.pyc"):
        write(repo / rel, "x")
    (repo / "link").symlink_to(repo / "a", target_is_directory=True)
    (repo / "file-link").symlink_to(repo / "z.py")
    listed = repo_files(repo)
    assert listed == sorted(listed)
    assert set(listed) == {Path(p) for p in ("a/b.py", "a-b/x.py", "a.b", "z.py", "file-link")}


def test_binary_huge_and_non_utf8_files_are_skipped_with_a_warning(tmp_path):
    repo = git_repo(tmp_path / "repo")
    write(repo / "bin.c", b"// TODO: binary\n\0\0")
    write(repo / "big.py", "# TODO: big\n" + "x = 1\n" * 200)
    write(repo / "latin.py", "# TODO: caf\xe9\n".encode("latin-1"))
    write(repo / "ok.py", "# TODO: ok\n")
    result = scan_code_comments(repo, max_bytes=1000)
    assert [f.title for f in result.findings] == ["ok"]
    root = str(repo.resolve())
    assert sorted(result.skipped_files) == [(root, "big.py"), (root, "bin.c"), (root, "latin.py")]
    assert len(result.warnings) == 3
    assert all(w.split(":")[0] in {"big.py", "bin.c", "latin.py"} for w in result.warnings)


def test_a_gitignored_file_is_not_scanned_in_a_git_repo(tmp_path):
    repo = git_repo(tmp_path / "repo")
    write(repo / ".gitignore", "ignored.py\nout/\n")
    write(repo / "tracked.py", "# TODO: tracked\n")
    git(repo, "add", "tracked.py", ".gitignore")
    git(repo, "commit", "-q", "-m", "init")
    write(repo / "untracked.py", "# TODO: untracked\n")
    write(repo / "ignored.py", "# TODO: ignored\n")
    write(repo / "out" / "x.py", "# TODO: ignored dir\n")
    titles_found = sorted(f.title for f in scan_code_comments(repo).findings)
    assert titles_found == ["tracked", "untracked"]


def test_a_repo_that_is_not_a_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        scan_code_comments(tmp_path / "missing")
    write(tmp_path / "file", "x")
    with pytest.raises(InputError):
        scan_code_comments(tmp_path / "file")
