"""doc_health discovery on real git repositories: each problem a doc check finds is one item,
identified by (check, file, key) so it survives moved lines; a clean repo yields nothing."""

from __future__ import annotations

import builtins
import io
import json
import os
import pathlib
from pathlib import Path

import pytest

from helmq.discovery.doc_health import SOURCE, doc_health
from helmq.domain.fingerprint import is_safe_key
from helmq.errors import ConfigError
from tests.conftest import git, make_git_repo, write

CLEAN = {
    "README.md": (
        "# Shop\n\n"
        "See the [guide](docs/guide.md), its [install section](docs/guide.md#install-it) and\n"
        "[the FAQ](#faq-dont-panic). [Top](#top), [the API](docs/api.md#get-items-1).\n\n"
        "## Run\n\n"
        "```sh\ndocker compose up\n```\n\n"
        "Then open http://localhost:8000 and the admin on `localhost:8001`.\n\n"
        "| variable | meaning |\n|---|---|\n"
        "| `SHOP_DATABASE_URL` | where orders live |\n| `SHOP_SECRET` | signs sessions |\n\n"
        "## FAQ: don't panic!\n\nNone.\n"
    ),
    "docs/guide.md": "# Guide\n\n## Install it\n\nRun `pip install shop`.\n",
    "docs/api.md": (
        "# API\n\n## GET /items\n\nList.\n\n## GET /items\n\nThe same, paged.\n\n"
        '<a name="legacy"></a>\n'
    ),
    "docker-compose.yml": (
        "services:\n"
        "  web:\n    build: .\n    ports:\n      - \"8000:8000\"\n      - 8001:8001\n"
        "    environment:\n      SHOP_DATABASE_URL: postgres://db/shop\n"
        "  db:\n    image: postgres:16\n    ports:\n      - \"5433:5432\"\n"
    ),
    "shop/settings.py": (
        "import os\n\n"
        "DATABASE_URL = os.environ['SHOP_DATABASE_URL']\n"
        "SECRET = os.getenv('SHOP_SECRET')\n"
        "HOME = os.environ.get('HOME')\n"
    ),
    "tests/conftest.py": "import os\nPG = os.environ.get('SHOP_TEST_PG')\n",
}


def findings(repo: Path, **kwargs) -> list:
    result = doc_health([repo], **kwargs)
    assert result.warnings == [] and result.skipped_files == []
    assert result.scanned == [str(repo.resolve())]
    return result.findings


def about(found: list) -> set[tuple[str, str, str]]:
    """(check, file, key) of each finding."""
    return {(f.data["check"], f.data["problem"]["file"], f.data["problem"]["key"])
            for f in found}


def test_a_clean_repo_yields_nothing(tmp_path: Path) -> None:
    # Given links, anchors (numbered, explicit, `#top`), ports and variables that all agree
    repo = make_git_repo(tmp_path / "shop", CLEAN)
    # Then no check fires
    assert findings(repo) == []


def test_a_broken_link_is_one_item_for_the_links_check(tmp_path: Path) -> None:
    # Given a README whose guide moved, linked twice on different lines
    files = {**CLEAN, "README.md": CLEAN["README.md"] + "\nAgain: [guide](docs/guide2.md)\n"
             "and [guide](docs/guide2.md).\n"}
    repo = make_git_repo(tmp_path / "shop", files)

    # When doc_health scans it
    [item] = findings(repo)

    # Then one item names the check that can fix it, the file, and the link
    assert item.title == "Broken link in README.md: docs/guide2.md"
    line = files["README.md"].splitlines().index("Again: [guide](docs/guide2.md)") + 1
    assert (item.source_file, item.line, item.recurrence, item.done) == (
        "README.md", line, None, False)
    assert item.data == {
        "title": item.title,
        "description": "link to docs/guide2.md is broken: docs/guide2.md does not exist",
        "scope": "README.md",
        "source": SOURCE,
        "repo": str(repo.resolve()),
        "tier": "script",
        "check": "links",
        "problem": {"file": "README.md", "key": "docs/guide2.md"},
    }
    assert is_safe_key(item.item_key)
    assert item.item_key.startswith("broken-link-in-readme-md-docs-guide2-md-")


def test_a_broken_anchor_is_one_item_for_the_anchors_check(tmp_path: Path) -> None:
    # Given links to a heading that was renamed, in another page and in the same page
    files = {
        **CLEAN,
        "docs/guide.md": CLEAN["docs/guide.md"]
        + "\nSee [usage](#usage) and [INSTALL](#INSTALL-IT).\n",
        "README.md": CLEAN["README.md"].replace("guide.md#install-it", "guide.md#installing"),
    }
    repo = make_git_repo(tmp_path / "shop", files)

    found = findings(repo)

    # Then each missing anchor is an item; a case difference is not (GitHub ignores case)
    assert about(found) == {("anchors", "README.md", "docs/guide.md#installing"),
                            ("anchors", "docs/guide.md", "#usage")}
    titles = {f.title for f in found}
    assert "Broken anchor in README.md: docs/guide.md#installing" in titles
    by_key = {f.data["problem"]["key"]: f for f in found}
    assert by_key["#usage"].data["description"] == (
        "link to #usage is broken: docs/guide.md has no anchor #usage")


def test_a_port_mismatch_between_readme_and_compose_is_one_item(tmp_path: Path) -> None:
    # Given a README that still says 8000 while compose now publishes the app on 8080
    compose = CLEAN["docker-compose.yml"].replace('"8000:8000"', '"8080:8080"')
    repo = make_git_repo(tmp_path / "shop", {**CLEAN, "docker-compose.yml": compose})

    [item] = findings(repo)

    # Then the README's port is the item, and it names what the config publishes instead
    assert about([item]) == {("ports", "README.md", "port:8000")}
    assert CLEAN["README.md"].splitlines()[item.line - 1].startswith("Then open http://")
    assert item.title == "Port 8000 in README.md is used by no config"
    assert item.data["description"] == (
        "README.md tells users to use port 8000, but no config or code uses it; "
        "the config publishes 8080 (docker-compose.yml)")


def test_a_published_port_no_doc_mentions_is_an_item_of_the_config(tmp_path: Path) -> None:
    # Given compose publishes a third port nobody documented
    compose = CLEAN["docker-compose.yml"].replace("      - 8001:8001\n",
                                                  "      - 8001:8001\n      - 9100:9100\n")
    repo = make_git_repo(tmp_path / "shop", {**CLEAN, "docker-compose.yml": compose})
    [item] = findings(repo)
    assert about([item]) == {("ports", "docker-compose.yml", "port:9100")}
    assert item.title == "Port 9100 published in docker-compose.yml is in no doc"


def test_ports_are_not_compared_without_port_config(tmp_path: Path) -> None:
    # Given docs that name a port and a repo with no config declaring any
    files = {k: v for k, v in CLEAN.items() if k != "docker-compose.yml"}
    repo = make_git_repo(tmp_path / "shop", files)
    assert findings(repo) == []


def test_an_undocumented_env_var_is_one_item_and_no_value_is_read(tmp_path: Path) -> None:
    # Given code that reads a variable no doc names, at two places, and a .env with a secret
    settings = CLEAN["shop/settings.py"] + "TOKEN = os.environ.get('SHOP_API_TOKEN')\n"
    files = {**CLEAN, "shop/settings.py": settings,
             "shop/client.py": "import os\n\nos.getenv(\"SHOP_API_TOKEN\")\n",
             ".env.local": "SHOP_SESSION_KEY=hunter2-secret\n"}
    repo = make_git_repo(tmp_path / "shop", files)

    [item] = findings(repo)

    # Then it is one item at the first read, and no value of any file is in it
    assert about([item]) == {("env_vars", "shop/client.py", "SHOP_API_TOKEN")}
    assert item.line == 3
    assert item.title == "Undocumented env var SHOP_API_TOKEN (read in shop/client.py)"
    assert "hunter2" not in json.dumps(item.data)


def test_a_documented_env_var_nothing_reads_is_an_item_of_the_doc(tmp_path: Path) -> None:
    readme = CLEAN["README.md"].replace(
        "| `SHOP_SECRET` | signs sessions |\n",
        "| `SHOP_SECRET` | signs sessions |\n| `SHOP_LEGACY_MODE` | gone |\n")
    repo = make_git_repo(tmp_path / "shop", {**CLEAN, "README.md": readme})
    [item] = findings(repo)
    assert about([item]) == {("env_vars", "README.md", "SHOP_LEGACY_MODE")}
    assert item.title == "Documented env var SHOP_LEGACY_MODE is read by no code"


def test_fingerprints_survive_moved_lines(tmp_path: Path) -> None:
    # Given a repo with one problem of each kind
    files = {
        **CLEAN,
        "README.md": CLEAN["README.md"].replace("docs/guide.md)", "docs/gone.md)")
        .replace("#faq-dont-panic", "#faq"),
        "docker-compose.yml": CLEAN["docker-compose.yml"].replace('"8000:8000"', '"8080:8080"'),
        "shop/settings.py": CLEAN["shop/settings.py"] + "X = os.getenv('SHOP_FLAG')\n",
    }
    repo = make_git_repo(tmp_path / "shop", files)
    first = findings(repo)
    assert {f.data["check"] for f in first} == {"links", "anchors", "ports", "env_vars"}

    # When lines are added above every one of them
    for rel in ("README.md", "shop/settings.py"):
        path = repo / rel
        path.write_text("\n\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    again = findings(repo)

    # Then each keeps its fingerprint and key; only the line moved
    def ids(found: list) -> dict[str, tuple[str, str]]:
        return {f.fingerprint: (f.item_key, f.title) for f in found}

    assert ids(again) == ids(first)
    assert {f.fingerprint: f.line - 3 for f in again} == {f.fingerprint: f.line for f in first}


def test_options_run_only_the_named_checks(tmp_path: Path) -> None:
    files = {**CLEAN, "README.md": CLEAN["README.md"] + "[gone](gone.md) [x](#nowhere)\n"}
    repo = make_git_repo(tmp_path / "shop", files)
    assert about(findings(repo, options={"checks": ["anchors"]})) == {
        ("anchors", "README.md", "#nowhere")}
    with pytest.raises(ConfigError, match=r"'spelling'.*known: links, anchors, ports, env_vars"):
        doc_health([repo], options={"checks": ["spelling"]})
    for wrong in ([], "links"):
        with pytest.raises(ConfigError, match="expected a non-empty list of check names"):
            doc_health([repo], options={"checks": wrong})


def test_an_unreadable_repo_is_a_warning_and_not_scanned(tmp_path: Path) -> None:
    good = make_git_repo(tmp_path / "shop", {"README.md": "[x](gone.md)\n"})
    result = doc_health([tmp_path / "missing", good])
    assert result.scanned == [str(good.resolve())]
    assert len(result.findings) == 1
    [warning] = result.warnings
    assert "missing" in warning and "does not exist" in warning


def test_a_doc_that_cannot_be_read_is_skipped_so_its_items_stay(tmp_path: Path) -> None:
    # Given a binary file named like a doc, and one in Latin-1
    repo = make_git_repo(tmp_path / "shop", CLEAN)
    (repo / "docs" / "blob.md").write_bytes(b"# x\0\0[a](gone.md)\n")
    (repo / "docs" / "latin.md").write_bytes("caf\xe9 [a](gone.md)\n".encode("latin-1"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd docs")

    result = doc_health([repo])

    assert result.findings == []
    assert sorted(result.skipped_files) == [(str(repo.resolve()), "docs/blob.md"),
                                            (str(repo.resolve()), "docs/latin.md")]
    assert any("docs/blob.md: file looks binary" in w for w in result.warnings)
    assert any("docs/latin.md: file is not UTF-8" in w for w in result.warnings)


class ForbidReads:
    """Fails any open of a file under `root` while `on` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.root = str(root.resolve()) + os.sep
        self.on = False
        self.reads: list[str] = []

        def wrap(real):
            def watched(first, *args, **kwargs):
                try:
                    path = str(Path(os.fsdecode(first)).resolve())
                except (TypeError, ValueError):
                    path = ""
                if path.startswith(self.root):
                    self.reads.append(path)
                    if self.on:
                        raise AssertionError(f"a cached rescan read {path}")
                return real(first, *args, **kwargs)
            return watched

        monkeypatch.setattr(builtins, "open", wrap(builtins.open))
        monkeypatch.setattr(io, "open", wrap(io.open))
        for name in ("open", "read_bytes", "read_text"):
            monkeypatch.setattr(pathlib.Path, name, wrap(getattr(pathlib.Path, name)))


def test_an_unchanged_repo_is_rescanned_from_the_cache_without_reading_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a scan with a cache of a repo with a broken link
    repo = make_git_repo(tmp_path / "shop", {"README.md": "[x](gone.md)\n",
                                             "docs/guide.md": "# Guide\n"})
    cache = tmp_path / "cache"
    watch = ForbidReads(monkeypatch, repo)
    first = doc_health([repo], cache_dir=cache)
    assert len(first.findings) == 1 and watch.reads

    # When nothing changed, a rescan opens no file of the repo and finds the same
    watch.on = True
    assert doc_health([repo], cache_dir=cache) == first

    # And after an edit it reads again and sees the change
    watch.on = False
    (repo / "README.md").write_text("[x](docs/guide.md)\n", encoding="utf-8")
    assert doc_health([repo], cache_dir=cache).findings == []
    # And a new file in the listing is seen too
    (repo / "docs" / "more.md").write_text("[y](nowhere.md)\n", encoding="utf-8")
    git(repo, "add", "docs/more.md")
    [item] = doc_health([repo], cache_dir=cache).findings
    assert item.source_file == "docs/more.md"
    # And another choice of checks is not served from that cache
    assert doc_health([repo], cache_dir=cache, options={"checks": ["ports"]}).findings == []


def test_deleting_an_untracked_link_target_is_noticed_by_the_cached_rescan(tmp_path):
    repo = make_git_repo(tmp_path / "r", {"README.md": "# app\n\nSee [setup](docs/setup.md).\n"})
    write(repo / "docs" / "setup.md", "# setup\n")  # exists, but git does not track it
    cache = tmp_path / "cache"

    def broken() -> list[str]:
        return [f.title for f in doc_health([repo], cache_dir=cache).findings
                if f.data["check"] == "links"]

    assert broken() == []
    (repo / "docs" / "setup.md").unlink()
    assert broken() == ["Broken link in README.md: docs/setup.md"]
