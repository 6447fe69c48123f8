"""The script checks: registry, links, anchors and noop, on real files and git repositories.
The ruff check, which runs the real `ruff`, is in tests/integration/test_script_checks.py."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from helmq.checks import all_checks, get_check, match_check, register
from helmq.checks import registry as registry_module
from helmq.checks.registry import FixResult, Problem
from helmq.errors import CheckError, UnknownCheckError
from helmq.repos import worktree as worktree_module
from helmq.repos.worktree import changed_files, commit_all, prepare_worktree
from tests.support.script_checks import write

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
    assert [check.name for check in all_checks()][:6] == [
        "links", "ruff", "noop", "anchors", "ports", "env_vars"]
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
        ("Fix broken anchors in the guide", "anchors"),
        ("Port mismatch between README and compose", "ports"),
        ("Undocumented env vars", "env_vars"),
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


# --- noop -------------------------------------------------------------------------------


def test_noop_finds_nothing_and_changes_nothing(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": "[broken](nowhere.md)\n"})
    noop = get_check("noop")
    assert noop.detect(tmp_path) == []
    assert noop.fix(tmp_path) == FixResult(0, [], ["nothing to do"])
    assert (tmp_path / "README.md").read_text() == "[broken](nowhere.md)\n"


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


def test_links_fixer_fixes_only_the_problems_it_is_given(tmp_path: Path) -> None:
    # Given two moved targets linked from one file, and one from another
    root = make_repo(tmp_path / "repo", {
        "docs/index.md": "[setup](setup.md) and [api](api.md)\n",
        "docs/other.md": "[setup](setup.md)\n",
        "docs/guide/setup.md": "# Setup\n",
        "docs/ref/api.md": "# API\n",
    })
    links = get_check("links")
    [setup] = [p for p in links.detect(root) if p.file == "docs/index.md" and p.key == "setup.md"]

    # When the fixer is asked for that one link
    result = links.fix(root, only=[setup])

    # Then only it changed; the same target in another file and the other link did not
    assert (result.fixed, result.unfixed) == (1, [])
    assert (root / "docs/index.md").read_text() == "[setup](guide/setup.md) and [api](api.md)\n"
    assert (root / "docs/other.md").read_text() == "[setup](setup.md)\n"
    assert {(p.file, p.key) for p in links.detect(root)} == {
        ("docs/index.md", "api.md"), ("docs/other.md", "setup.md")}


def test_links_in_test_data_are_not_the_projects(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"tests/fixtures/page.md": "[x](gone.md)\n",
                                         "tests/corpus/a.md": "[y](gone.md)\n"})
    assert get_check("links").detect(root) == []


# --- anchors ----------------------------------------------------------------------------

ANCHORS_PAGE = """\
# The `helmq` CLI: a *tour*

## Install & run (v2)

## Install & run (v2)

Setext heading
--------------

## Über uns {#about}

### snake_case and __bold__

<a name="legacy-name"></a>
<div id="custom-block"></div>

```md
## Not a heading
```
"""


def test_anchors_follow_githubs_heading_slugs(tmp_path: Path) -> None:
    from helmq.checks.markdown import anchors

    assert anchors(ANCHORS_PAGE) == [
        "the-helmq-cli-a-tour", "install--run-v2", "install--run-v2-1", "setext-heading",
        "about", "über-uns", "snake_case-and-bold", "legacy-name", "custom-block",
    ]


def test_anchors_detector_finds_links_to_missing_headings_only(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {
        "docs/page.md": ANCHORS_PAGE,
        "README.md": (
            "[a](docs/page.md#install--run-v2-1) [b](docs/page.md#install-run-v2) "
            "[c](docs/page.md#ABOUT) [d](docs/page.md#user-content-legacy-name)\n"
            "[e](docs/page.md#gone) [f](#top) [g](#readme) [h](src/app.py#L10)\n"
            "[i](docs/missing.md#x) [j](docs/page.md) [k](#) [l](<docs/page.md#nope>)\n"
            "# Readme\n"
        ),
        "src/app.py": "x = 1\n",
    })
    problems = get_check("anchors").detect(root)
    # `#install-run-v2` reaches the heading on renderers that collapse hyphens (MkDocs)
    assert {(p.file, p.line, p.key) for p in problems} == {
        ("README.md", 2, "docs/page.md#gone"),
        ("README.md", 3, "<docs/page.md#nope>"),
    }
    [gone] = [p for p in problems if p.key == "docs/page.md#gone"]
    assert gone.message == "link to docs/page.md#gone is broken: docs/page.md has no anchor #gone"
    assert gone.detail["anchor"] == "gone"


def test_anchors_fixer_rewrites_only_a_unique_close_match(tmp_path: Path) -> None:
    # Given anchors written with other punctuation, other word order, and a real miss
    page = "# Guide\n\n## Set-up: the basics\n\n## Step 1\n\n## Step 2\n"
    root = make_repo(tmp_path / "repo", {
        "docs/guide.md": page,
        "README.md": (
            "[a](docs/guide.md#setup-the-basics) [b](docs/guide.md#the-basics-set-up)\n"
            "[c](docs/guide.md#step) [d](docs/guide.md#faq) "
            "[e](<docs/guide.md#set_up_the_basics>)\n"
        ),
    })
    anchors_check = get_check("anchors")
    problems = anchors_check.detect(root)
    assert len(problems) == 5

    result = anchors_check.fix(root)

    # Then the unique close matches point at the heading; the ambiguous and the lost are left
    assert (root / "README.md").read_text() == (
        "[a](docs/guide.md#set-up-the-basics) [b](docs/guide.md#set-up-the-basics)\n"
        "[c](docs/guide.md#step) [d](docs/guide.md#faq) [e](<docs/guide.md#set-up-the-basics>)\n"
    )
    assert result.fixed == 3
    assert {p.key for p in result.unfixed} == {"docs/guide.md#step", "docs/guide.md#faq"}
    assert "README.md:2: left docs/guide.md#faq: no heading is close" in result.notes
    assert anchors_check.scope(problems) == {"README.md"}
    assert {p.key for p in anchors_check.detect(root)} == {p.key for p in result.unfixed}


# --- ports and env vars -----------------------------------------------------------------


def test_report_only_checks_change_nothing(tmp_path: Path) -> None:
    for name in ("ports", "env_vars"):
        check = get_check(name)
        assert (check.reports_only, check.needs_worktree) == (True, False)
        problem = Problem("README.md", 1, "m", {}, key="k")
        assert check.fix(tmp_path, only=[problem]).unfixed == [problem]
        assert check.scope([problem]) == set()
    assert not any(get_check(n).reports_only for n in ("links", "anchors", "ruff", "noop"))


def test_compose_ports_in_every_syntax() -> None:
    from helmq.checks.ports import compose_ports

    compose = (
        "services:\n"
        "  web:\n"
        "    ports:\n"
        "    - \"8000:8000\"\n"
        "    - 127.0.0.1:9000:90/tcp\n"
        "    - ${WEB_PORT:-3000}:3000  # the UI\n"
        "    - 4000\n"
        "    - target: 81\n"
        "      published: \"8081\"\n"
        "    expose: [\"7000\", 7001]\n"
        "    environment:\n"
        "      PORT: 5\n"
        "  db:\n"
        "    expose:\n"
        "      - 6000\n"
        "    image: postgres\n"
    )
    assert list(compose_ports(compose)) == [
        (4, 8000, 8000), (5, 9000, 90), (6, 3000, 3000), (7, None, 4000), (8, None, 81),
        (9, 8081, None), (10, None, 7000), (10, None, 7001), (15, None, 6000),
    ]


def test_env_var_reads_in_several_languages() -> None:
    from helmq.checks.env_vars import reads

    code = (
        "a = os.environ['PY_A'] + os.environ.get(\"PY_B\") + os.getenv('PY_C')\n"
        "const b = process.env.JS_A ?? process.env['JS_B'] ?? import.meta.env.VITE_C\n"
        "c := os.Getenv(\"GO_A\"); d := env::var(\"RS_A\"); ENV.fetch('RB_A')\n"
        "os.environ.get(f'DYN_{x}'); os.environ.get('lower_case'); say('NOT_READ')\n"
    )
    assert [name for _, name in reads("app.py", code)] == [
        "PY_A", "PY_B", "PY_C", "JS_A", "JS_B", "VITE_C", "GO_A", "RS_A", "RB_A"]
    assert [n for _, n in reads("docker-compose.yml", "x: ${DB_URL:-a} ${TAG}\n$NOPE\n")] == [
        "DB_URL", "TAG"]


def test_docs_present_a_variable_to_set_only_in_an_environment_context() -> None:
    from helmq.checks.env_vars import documented_settings

    doc = (
        "# Environment variables\n\n### `SHOP_USER`\n\nWho.\n\n"
        "# Internals\n\n`MAX_ITEMS` is a constant. Run with `SHOP_MODE=fast`.\n\n"
        "| field | meaning |\n|---|---|\n| `FORM_FIELD` | a box on the CI form |\n\n"
        "| variable | meaning |\n|---|---|\n| SHOP_KEY | signs |\n\n"
        "After the table: `NOT_A_VAR`.\nThe env var `SHOP_DEBUG` prints more.\n"
    )
    assert [name for _, name in documented_settings("docs/config.md", doc)] == [
        "SHOP_USER", "SHOP_MODE", "SHOP_KEY", "SHOP_DEBUG"]
    example = "# comment\nSHOP_USER=\nexport SHOP_KEY=abc\nlower=1\n"
    assert [name for _, name in documented_settings(".env.example", example)] == [
        "SHOP_USER", "SHOP_KEY"]
