"""The script checks: registry, links, ruff and noop, on real files and git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helmq.errors import CheckError, UnknownCheckError
from helmq.tiers import worktree as worktree_module
from helmq.tiers.script import all_checks, get_check, match_check, register
from helmq.tiers.script import registry as registry_module
from helmq.tiers.script import ruff as ruff_module
from helmq.tiers.script.registry import FixResult, Problem
from helmq.tiers.worktree import changed_files, commit_all, prepare_worktree

USER = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    """Run git as the test's user."""
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **USER},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository with one commit of `files`."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    write(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def broken(problems: list[Problem]) -> set[tuple[str, int, str]]:
    return {(p.file, p.line, p.detail["target"]) for p in problems}


# --- registry ---------------------------------------------------------------------------


def test_shipped_checks_are_registered_in_order() -> None:
    assert [check.name for check in all_checks()][:3] == ["links", "ruff", "noop"]
    assert get_check("links").needs_worktree is True
    assert get_check("noop").needs_worktree is False


def test_unknown_check_names_the_known_ones() -> None:
    with pytest.raises(UnknownCheckError, match=r"'spelling'.*links, ruff, noop"):
        get_check("spelling")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Fix broken links in docs/", "links"),
        ("Dead  LINK in README", "links"),
        ("Run a link check", "links"),
        ("fix relative links after the move", "links"),
        ("Fix lint errors", "ruff"),
        ("Linting: unused imports", "ruff"),
        ("ruff complains about E501", "ruff"),
        ("Old flake8 warnings", "ruff"),
        ("noop check for the benchmark", "noop"),
        # Both match; the first registered wins.
        ("lint the broken links", "links"),
        # Keywords must start a word.
        ("splinter the gruff parser", None),
        ("Write the changelog", None),
    ],
)
def test_match_check_by_title_keywords(title: str, expected: str | None) -> None:
    check = match_check(title)
    assert (check.name if check else None) == expected


def test_register_replaces_a_check_of_the_same_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_CHECKS", dict(registry_module._CHECKS))

    class Spelling:
        name = "links"
        keywords = ("spelling",)
        needs_worktree = False

        def detect(self, root: Path) -> list[Problem]:
            return []

        def fix(self, root: Path) -> FixResult:
            return FixResult(0, [], [])

        def scope(self, problems: object) -> set[str] | None:
            return None

    replacement = Spelling()
    register(replacement)
    assert get_check("links") is replacement
    assert match_check("fix spelling") is replacement
    assert match_check("broken link") is None


# --- links ------------------------------------------------------------------------------

LINKS_README = """\
# Project

See the [guide](docs/guide.md) and [its install section](docs/guide.md#install).
A [missing page](docs/missing.md) and [a missing anchor target](docs/gone.md#top).
![diagram](img/arch.png "Architecture")
[web](https://example.com/nope.md), [mail](mailto:me@example.com), [here](#project),
[rooted](/docs/guide.md), [rooted missing](/docs/nowhere.md), [spaced](docs/my%20notes.md),
[angle](<docs/my notes.md>), [outside](../../elsewhere.md), [dir](docs/).
`[code span](docs/not-checked.md)` and ``[double `span`](docs/nor-this.md)``

```markdown
[fenced](docs/fenced.md)
```

~~~
[tilde fenced](docs/tilde.md)
~~~

[ref]: docs/ref-missing.md "Reference"
[ok-ref]: docs/guide.md
[^note]: docs/footnote-text.md
"""


def test_links_detector_finds_broken_relative_links_only(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        {
            "README.md": LINKS_README,
            "docs/guide.md": "# Guide\n",
            "docs/my notes.md": "notes\n",
            "docs/sub/page.md": "[up](../guide.md) [bad up](../../nope.md)\n",
        },
    )
    problems = get_check("links").detect(root)
    assert broken(problems) == {
        ("README.md", 4, "docs/missing.md"),
        ("README.md", 4, "docs/gone.md#top"),
        ("README.md", 5, "img/arch.png"),
        ("README.md", 7, "/docs/nowhere.md"),
        ("README.md", 19, "docs/ref-missing.md"),
        ("docs/sub/page.md", 1, "../../nope.md"),
    }
    by_target = {p.detail["target"]: p for p in problems}
    assert by_target["docs/gone.md#top"].detail["path"] == "docs/gone.md"
    assert by_target["/docs/nowhere.md"].message == (
        "link to /docs/nowhere.md is broken: docs/nowhere.md does not exist"
    )
    assert (
        by_target["docs/missing.md"].detail["column"]
        == LINKS_README.splitlines()[3].index("docs/missing.md") + 1
    )


def test_links_detector_reads_only_tracked_files_in_a_repo(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"README.md": "[a](a.md)\n"})
    write(root, {"draft.md": "[b](b.md)\n"})
    assert broken(get_check("links").detect(root)) == {("README.md", 1, "a.md")}


def test_links_detector_reads_all_files_outside_git(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "[a](a.md)\n", "docs/x.md": "[b](../README.md)\n[c](c.md)\n"})
    assert broken(get_check("links").detect(tmp_path)) == {
        ("README.md", 1, "a.md"),
        ("docs/x.md", 2, "c.md"),
    }


def test_links_on_a_missing_directory_is_an_error_not_a_pass(tmp_path: Path) -> None:
    with pytest.raises(CheckError, match="no such directory"):
        get_check("links").detect(tmp_path / "gone")


def test_links_fixer_follows_a_moved_file_and_leaves_ambiguous_ones(tmp_path: Path) -> None:
    # Given docs moved under guides/, one name now exists twice, one file is gone for good
    readme = (
        "Read the [guide](docs/guide.md#install) first.\r\n"
        "Then [setup](docs/setup.md), [lost](docs/lost.md) and [guide again](docs/guide.md).\r\n"
    )
    root = make_repo(
        tmp_path / "repo",
        {
            "README.md": readme,
            "notes/todo.md": '[guide](../docs/guide.md "title") [rooted](/docs/guide.md)\n',
            "guides/user guide/guide.md": "# Guide\n",
            "a/setup.md": "A\n",
            "b/setup.md": "B\n",
        },
    )
    links = get_check("links")
    problems = links.detect(root)
    # When the fixer runs
    result = links.fix(root)
    # Then each link to the moved file points at its new home, anchors and titles kept
    assert (root / "README.md").read_bytes() == (
        b"Read the [guide](guides/user%20guide/guide.md#install) first.\r\n"
        b"Then [setup](docs/setup.md), [lost](docs/lost.md) and "
        b"[guide again](guides/user%20guide/guide.md).\r\n"
    )
    assert (root / "notes/todo.md").read_text() == (
        '[guide](../guides/user%20guide/guide.md "title") [rooted](/guides/user%20guide/guide.md)\n'
    )
    # And the ambiguous and the missing ones are reported, not guessed
    assert result.fixed == 4
    assert broken(result.unfixed) == {
        ("README.md", 2, "docs/setup.md"),
        ("README.md", 2, "docs/lost.md"),
    }
    assert "README.md:2: left docs/setup.md: 2 files have its name" in result.notes
    assert "README.md:2: left docs/lost.md: no file has its name" in result.notes
    assert broken(links.detect(root)) == broken(result.unfixed)
    assert links.scope(problems) == {"README.md", "notes/todo.md"}


def test_links_fixer_never_follows_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    # Given a tracked symlink to a Markdown file outside the repository
    outside = tmp_path / "outside.md"
    outside.write_text("[moved](moved.md)\n")
    root = make_repo(tmp_path / "repo", {"docs/moved.md": "# Moved\n"})
    (root / "linked.md").symlink_to(outside)
    git(root, "add", "linked.md")
    git(root, "commit", "-q", "-m", "link")
    links = get_check("links")
    # Then neither the detector nor the fixer goes through it
    assert links.detect(root) == []
    assert links.fix(root).fixed == 0
    assert outside.read_text() == "[moved](moved.md)\n"


def test_links_fix_in_a_worktree_stays_in_scope_and_off_the_user_checkout(
    tmp_path: Path,
) -> None:
    # Given a repository whose README links to a file that moved
    repo = make_repo(
        tmp_path / "repo",
        {"README.md": "[api](api.md)\n", "docs/api.md": "# API\n", "other.md": "fine\n"},
    )
    user_readme = (repo / "README.md").read_bytes()
    # When the script tier fixes it on the item's branch and review re-runs the detector
    wt = prepare_worktree(repo, tmp_path / "wts", "fix-links")
    links = get_check("links")
    problems = links.detect(wt.path)
    result = links.fix(wt.path)
    commit_all(wt, "Fix broken links")
    # Then the detector no longer fires on the branch, the diff stays in scope,
    # and the user's checkout still has the broken link
    assert result.fixed == 1
    assert links.detect(wt.path) == []
    assert set(changed_files(wt)) <= links.scope(problems) == {"README.md"}
    assert (repo / "README.md").read_bytes() == user_readme
    assert git(repo, "status", "--porcelain") == ""


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


# --- noop -------------------------------------------------------------------------------


def test_noop_finds_nothing_and_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "[broken](nowhere.md)\n"})
    noop = get_check("noop")
    assert noop.detect(tmp_path) == []
    assert noop.fix(tmp_path) == FixResult(0, [], ["nothing to do"])
    assert (tmp_path / "README.md").read_text() == "[broken](nowhere.md)\n"


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


def test_a_hung_git_in_the_links_check_is_a_check_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a git that never answers, first on PATH
    root = make_repo(tmp_path / "repo", {"README.md": "[x](x.md)\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text("#!/bin/sh\nexec sleep 60\n")
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(worktree_module, "GIT_TIMEOUT", 0.5)
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"`git ls-files -z` did not finish within 0\.5 s") as info:
        get_check("links").detect(root)
    assert time.monotonic() - started < 30
    assert str(root) in str(info.value)
