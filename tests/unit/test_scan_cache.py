"""The incremental rescan: files unchanged since the last scan (same mtime, size, inode) are
not read again; their findings and warnings come from the per-repo scan cache."""

from __future__ import annotations

import builtins
import io
import json
import logging
import os
import pathlib
import shutil
import time
from pathlib import Path

import pytest

from helmq.discovery import autodo_scan as todo_module
from helmq.discovery import code_comments as comments_module
from helmq.discovery.cache import CACHE_FORMAT, FileCache
from helmq.discovery.registry import autodo_scan
from helmq.repos import files as files_module
from tests.conftest import make_git_repo, write
from tests.support.scan_cache import FILES


class ReadWatch:
    """Records (and, when `forbid` is set, refuses) every read of a file under `root`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.root = str(root.resolve())
        self.reads: list[str] = []
        self.forbid = False
        real_read_text_file = files_module.read_text_file
        real_read_file_bytes = files_module.read_file_bytes
        real_open, real_io_open = builtins.open, io.open
        real_path_open = pathlib.Path.open
        real_read_bytes, real_read_text = pathlib.Path.read_bytes, pathlib.Path.read_text

        def guard(path: object) -> None:
            try:
                resolved = str(Path(os.fsdecode(path)).resolve())  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return
            if resolved.startswith(self.root + os.sep):
                rel = Path(resolved).relative_to(self.root).as_posix()
                self.reads.append(rel)
                if self.forbid:
                    raise AssertionError(f"a cached rescan read {rel}")

        def wrap(real):
            def watched(first, *args, **kwargs):
                guard(first)
                return real(first, *args, **kwargs)
            return watched

        def watched_read_text_file(path, *, max_bytes):
            guard(path)
            return real_read_text_file(path, max_bytes=max_bytes)

        def watched_read_file_bytes(path, *, max_bytes):
            guard(path)
            return real_read_file_bytes(path, max_bytes=max_bytes)

        for module in (files_module, todo_module):
            monkeypatch.setattr(module, "read_text_file", watched_read_text_file)
        for module in (files_module, comments_module):
            monkeypatch.setattr(module, "read_file_bytes", watched_read_file_bytes)
        monkeypatch.setattr(builtins, "open", wrap(real_open))
        monkeypatch.setattr(os, "open", wrap(os.open))
        monkeypatch.setattr(io, "open", wrap(real_io_open))
        monkeypatch.setattr(pathlib.Path, "open", wrap(real_path_open))
        monkeypatch.setattr(pathlib.Path, "read_bytes", wrap(real_read_bytes))
        monkeypatch.setattr(pathlib.Path, "read_text", wrap(real_read_text))

    def files(self) -> set[str]:
        return set(self.reads)


def summary(result) -> tuple:
    return (result.findings, result.warnings, result.skipped_files, result.scanned)


def cache_header(path: Path) -> dict:
    """The JSON of a cache file: its first line (the signatures follow it, as numbers)."""
    return json.loads(path.read_bytes().split(b"\n", 1)[0])


def touch_later(path: Path, text: str | bytes) -> None:
    """Rewrite a file and move its mtime on, as an edit a while later would."""
    before = path.stat().st_mtime_ns
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    later = before + 5_000_000_000
    os.utime(path, ns=(later, later))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """FILES in a git repository, untouched for an hour (a file written within a clock tick
    of a scan is read again by the next one)."""
    root = make_git_repo(tmp_path / "repo", FILES)
    age(root)
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "scan-cache"


def test_a_rescan_of_an_unchanged_tree_reads_no_file(repo, cache_dir, monkeypatch):
    uncached = autodo_scan([repo])
    first = autodo_scan([repo], cache_dir=cache_dir)
    assert summary(first) == summary(uncached)
    assert {f.title for f in first.findings} >= {"write the docs", "docs item", "tidy app",
                                                 "broken edge case", "remove this later",
                                                 "deploy check"}
    assert any("priority" in w for w in first.warnings)
    assert len(list(cache_dir.glob("*.json"))) == 1

    watch = ReadWatch(monkeypatch, repo)
    watch.forbid = True
    again = autodo_scan([repo], cache_dir=cache_dir)
    assert summary(again) == summary(first)
    assert watch.files() == set()


def test_an_unchanged_rescan_does_not_rewrite_the_cache(repo, cache_dir):
    autodo_scan([repo], cache_dir=cache_dir)
    [path] = cache_dir.glob("*.json")
    stamp = path.stat().st_mtime_ns, path.stat().st_ino
    autodo_scan([repo], cache_dir=cache_dir)
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == stamp


def test_only_a_changed_file_is_read_again(repo, cache_dir, monkeypatch):
    autodo_scan([repo], cache_dir=cache_dir)
    touch_later(repo / "src" / "app.py", "x = 1  # TODO: tidy app\n# TODO: a new one\n")
    touch_later(repo / "TODO.md", "- [ ] write the docs !p1\n- [ ] added later\n")
    watch = ReadWatch(monkeypatch, repo)
    result = autodo_scan([repo], cache_dir=cache_dir)
    assert watch.files() == {"src/app.py", "TODO.md"}
    titles = {f.title for f in result.findings}
    assert {"a new one", "added later", "docs item", "remove this later"} <= titles
    assert "broken edge case" not in titles and "ship it" not in titles
    assert not any("priority" in w for w in result.warnings)
    assert summary(result) == summary(autodo_scan([repo]))


def test_a_new_untracked_file_is_read_and_found(repo, cache_dir, monkeypatch):
    autodo_scan([repo], cache_dir=cache_dir)
    (repo / "src" / "new.py").write_text("# BUG: fresh\n", encoding="utf-8")
    watch = ReadWatch(monkeypatch, repo)
    result = autodo_scan([repo], cache_dir=cache_dir)
    assert watch.files() == {"src/new.py"}
    assert "fresh" in {f.title for f in result.findings}


def test_a_deleted_file_loses_its_findings_and_its_cache_entry(repo, cache_dir, monkeypatch):
    autodo_scan([repo], cache_dir=cache_dir)
    (repo / "src" / "lib.js").unlink()
    (repo / "docs" / "TODO.md").unlink()
    watch = ReadWatch(monkeypatch, repo)
    watch.forbid = True
    result = autodo_scan([repo], cache_dir=cache_dir)
    titles = {f.title for f in result.findings}
    assert "remove this later" not in titles and "docs item" not in titles
    assert "tidy app" in titles
    [path] = cache_dir.glob("*.json")
    cached = cache_header(path)["files"]
    listed = {rel for scanned in cached.values() for rel in scanned["paths"]}
    assert "src/lib.js" not in listed and "docs/TODO.md" not in listed
    assert "src/app.py" in listed


def test_a_corrupt_cache_is_a_warning_and_a_full_rescan(repo, cache_dir, caplog):
    expected = summary(autodo_scan([repo]))
    autodo_scan([repo], cache_dir=cache_dir)
    [path] = cache_dir.glob("*.json")
    path.write_text('{"format": 1, "entries": [', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="helmq.discovery.cache"):
        result = autodo_scan([repo], cache_dir=cache_dir)
    assert summary(result) == expected
    assert any("corrupt" in r.getMessage() for r in caplog.records)
    assert cache_header(path)["format"] == CACHE_FORMAT  # rebuilt, valid again
    assert FileCache(cache_dir, repo).lookup(
        "todo_md:1000000", "TODO.md", None) is None  # no signature, no hit


@pytest.mark.parametrize("garbage", ['{"entries": {"x": 3}}', "[]", "\0\0\0"])
def test_a_cache_of_the_wrong_shape_is_ignored(repo, cache_dir, caplog, garbage):
    expected = summary(autodo_scan([repo]))
    cache_dir.mkdir(parents=True)
    (cache_dir / FileCache(cache_dir, repo).path.name).write_text(garbage, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="helmq.discovery.cache"):
        assert summary(autodo_scan([repo], cache_dir=cache_dir)) == expected
    assert caplog.records


def test_a_malformed_cached_result_is_read_again(repo, cache_dir, monkeypatch):
    # Given a cache whose result for one file was damaged
    expected = summary(autodo_scan([repo]))
    autodo_scan([repo], cache_dir=cache_dir)
    [path] = cache_dir.glob("*.json")
    header, tail = path.read_bytes().split(b"\n", 1)
    data = json.loads(header)
    [kind] = [kind for kind in data["files"] if kind.startswith("code_comment")]
    data["files"][kind]["found"]["src/app.py"]["findings"] = [["too", "short"]]
    path.write_bytes(json.dumps(data).encode() + b"\n" + tail)

    # When the repo is scanned again, then that file alone is read again
    watch = ReadWatch(monkeypatch, repo)
    result = autodo_scan([repo], cache_dir=cache_dir)
    assert watch.files() == {"src/app.py"}
    assert summary(result) == expected


def test_a_binary_todo_file_stays_skipped_on_the_cached_rescan(tmp_path, cache_dir,
                                                              monkeypatch):
    repo = make_git_repo(tmp_path / "repo", {"src/a.py": "# TODO: code\n"})
    (repo / "TODO.md").write_bytes(b"- [ ] binary\0\0\n")
    (repo / "src" / "b.c").write_bytes(b"// TODO: binary c\n\0\0")
    age(repo)
    first = autodo_scan([repo], cache_dir=cache_dir)
    root = str(repo.resolve())
    assert sorted(first.skipped_files) == [(root, "TODO.md"), (root, "src/b.c")]
    assert len(first.warnings) == 2
    watch = ReadWatch(monkeypatch, repo)
    watch.forbid = True
    again = autodo_scan([repo], cache_dir=cache_dir)
    assert summary(again) == summary(first)


def test_a_changed_size_limit_reads_the_files_again(repo, cache_dir, monkeypatch):
    autodo_scan([repo], cache_dir=cache_dir)
    watch = ReadWatch(monkeypatch, repo)
    small = todo_module.scan_todo_files(repo, max_bytes=20,
                                        cache=FileCache(cache_dir, repo))
    assert watch.files() == {"TODO.md", "docs/TODO.md"}
    assert [rel for _, rel in small.skipped_files] == ["TODO.md"]


def test_an_unreadable_file_is_not_cached(repo, cache_dir, monkeypatch):
    # Given a file that cannot be opened during the first scan (a permission error; the
    # tests run as root, which chmod cannot stop, so the open itself is made to fail)
    path = (repo / "src" / "app.py").resolve()

    def refusing(real_open):
        def refuse(file, *args, **kwargs):
            if isinstance(file, str | os.PathLike) and Path(file).resolve() == path:
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)
        return refuse

    with monkeypatch.context() as m:
        m.setattr(builtins, "open", refusing(builtins.open))
        m.setattr(os, "open", refusing(os.open))
        first = autodo_scan([repo], cache_dir=cache_dir)
    assert any(rel == "src/app.py" for _, rel in first.skipped_files)

    # When it is readable again, then the rescan reads it (the failure was not cached)
    again = autodo_scan([repo], cache_dir=cache_dir)
    assert "tidy app" in {f.title for f in again.findings}


# --- a tree outside git: the walk lists only the folders that changed ---------------------


class ListWatch:
    """Records every folder `os.scandir` lists under `root`, relative to it ("." for root)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.root = root.resolve()
        self.listed: list[str] = []
        real_scandir = os.scandir

        def watched(path=".", *args, **kwargs):
            resolved = Path(os.fsdecode(path)).resolve()
            if resolved == self.root or self.root in resolved.parents:
                self.listed.append(resolved.relative_to(self.root).as_posix())
            return real_scandir(path, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", watched)


def age(tree: Path, seconds: float = 3600) -> None:
    """Set back the times of every folder and file under tree, as if nothing had changed there
    for an hour (a folder changed within a clock tick of a walk is listed again anyway)."""
    then = time.time() - seconds
    for folder, _dirs, names in os.walk(tree):
        for name in names:
            os.utime(os.path.join(folder, name), (then, then), follow_symlinks=False)
        os.utime(folder, (then, then))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """FILES in a plain folder, not a git repository, untouched for an hour."""
    root = tmp_path / "tree"
    for rel, content in FILES.items():
        write(root / rel, content)
    age(root)
    return root


def test_an_unchanged_walked_tree_is_rescanned_without_a_listing_or_a_read(tree, cache_dir,
                                                                          monkeypatch):
    # Given a first scan of a tree outside git, which lists every folder
    lists = ListWatch(monkeypatch, tree)
    first = autodo_scan([tree], cache_dir=cache_dir)
    assert set(lists.listed) == {".", "docs", "src", "bin"}
    assert summary(first) == summary(autodo_scan([tree]))
    assert {"tidy app", "docs item", "deploy check"} <= {f.title for f in first.findings}

    # When it is scanned again, nothing having changed
    lists.listed.clear()
    watch = ReadWatch(monkeypatch, tree)
    watch.forbid = True
    again = autodo_scan([tree], cache_dir=cache_dir)

    # Then no folder is listed, no file opened, and the result is the same
    assert lists.listed == []
    assert summary(again) == summary(first)


def test_a_new_file_in_an_otherwise_unchanged_folder_is_found(tree, cache_dir, monkeypatch):
    autodo_scan([tree], cache_dir=cache_dir)
    write(tree / "src" / "new.py", "# BUG: fresh\n")
    lists = ListWatch(monkeypatch, tree)
    watch = ReadWatch(monkeypatch, tree)
    result = autodo_scan([tree], cache_dir=cache_dir)
    assert lists.listed == ["src"]
    assert watch.files() == {"src/new.py"}
    assert "fresh" in {f.title for f in result.findings}
    assert summary(result) == summary(autodo_scan([tree]))


def test_a_new_subfolder_with_a_todo_comment_is_found(tree, cache_dir, monkeypatch):
    autodo_scan([tree], cache_dir=cache_dir)
    write(tree / "src" / "deep" / "er" / "mod.py", "x = 2  # TODO: deep down\n")
    write(tree / "src" / "deep" / "TODO.md", "- [ ] deep item\n")
    lists = ListWatch(monkeypatch, tree)
    result = autodo_scan([tree], cache_dir=cache_dir)
    assert sorted(lists.listed) == ["src", "src/deep", "src/deep/er"]
    titles = {(f.source_file, f.title) for f in result.findings}
    assert {("src/deep/er/mod.py", "deep down"), ("src/deep/TODO.md", "deep item")} <= titles
    assert summary(result) == summary(autodo_scan([tree]))


def test_a_deleted_file_and_folder_lose_their_items_on_the_walked_rescan(tree, cache_dir,
                                                                        monkeypatch):
    autodo_scan([tree], cache_dir=cache_dir)
    (tree / "src" / "lib.js").unlink()
    shutil.rmtree(tree / "docs")
    watch = ReadWatch(monkeypatch, tree)
    watch.forbid = True
    result = autodo_scan([tree], cache_dir=cache_dir)
    watch.forbid = False
    titles = {f.title for f in result.findings}
    assert "remove this later" not in titles and "docs item" not in titles
    assert "tidy app" in titles
    assert summary(result) == summary(autodo_scan([tree]))


def test_a_renamed_file_is_found_under_its_new_name_only(tree, cache_dir, monkeypatch):
    autodo_scan([tree], cache_dir=cache_dir)
    (tree / "src" / "app.py").rename(tree / "src" / "main.py")
    watch = ReadWatch(monkeypatch, tree)
    result = autodo_scan([tree], cache_dir=cache_dir)
    assert watch.files() == {"src/main.py"}
    sources = {f.source_file for f in result.findings if f.title == "tidy app"}
    assert sources == {"src/main.py"}
    assert summary(result) == summary(autodo_scan([tree]))


def test_a_file_rewritten_with_its_size_and_mtime_kept_is_read_again(tree, cache_dir,
                                                                    monkeypatch):
    # Given a scanned file, rewritten with as many bytes and its mtime set back as it was
    autodo_scan([tree], cache_dir=cache_dir)
    path = tree / "src" / "lib.js"
    before = path.stat()
    path.write_text("// HACK: remove that later\n", encoding="utf-8")  # "this" was there
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    # When the tree is scanned again, then its ctime gives the change away
    watch = ReadWatch(monkeypatch, tree)
    result = autodo_scan([tree], cache_dir=cache_dir)
    assert watch.files() == {"src/lib.js"}
    titles = {f.title for f in result.findings}
    assert "remove that later" in titles and "remove this later" not in titles
    assert summary(result) == summary(autodo_scan([tree]))


def test_a_folder_changed_just_before_its_listing_is_listed_again(tmp_path, cache_dir,
                                                                 monkeypatch):
    # Given a folder written to within the clock tick of the walk (the next change in that
    # tick would not move its mtime)
    root = tmp_path / "fresh"
    write(root / "a.py", "# TODO: one\n")
    autodo_scan([root], cache_dir=cache_dir)
    lists = ListWatch(monkeypatch, root)

    # When it is scanned again, then it is listed again, until its last change is older
    autodo_scan([root], cache_dir=cache_dir)
    assert lists.listed == ["."]
    lists.listed.clear()
    age(root)
    autodo_scan([root], cache_dir=cache_dir)  # listed once more: its stamp moved back
    lists.listed.clear()
    autodo_scan([root], cache_dir=cache_dir)
    assert lists.listed == []


def test_a_symlink_whose_target_becomes_a_folder_is_no_file_any_more(tree, cache_dir):
    # Given a link in src/ to a file outside the tree: a file of src/
    target = tree.parent / "elsewhere" / "shared.py"
    write(target, "# TODO: shared\n")
    (tree / "src" / "shared.py").symlink_to(target)
    age(tree)
    first = autodo_scan([tree], cache_dir=cache_dir)
    assert "src/shared.py" in {f.source_file for f in first.findings}

    # When its target turns into a folder (no folder of the tree changes)
    target.unlink()
    write(target / "inner.py", "# TODO: inner\n")

    # Then the link is passed over, as a walk from scratch does
    again = autodo_scan([tree], cache_dir=cache_dir)
    assert "src/shared.py" not in {f.source_file for f in again.findings}
    assert summary(again) == summary(autodo_scan([tree]))

    # And when it is a file again, it is found again
    shutil.rmtree(target)
    write(target, "# TODO: shared again\n")
    last = autodo_scan([tree], cache_dir=cache_dir)
    assert ("src/shared.py", "shared again") in {(f.source_file, f.title) for f in last.findings}
    assert summary(last) == summary(autodo_scan([tree]))


def test_a_lost_file_list_makes_the_next_changed_rescan_walk_every_folder(tree, cache_dir,
                                                                         monkeypatch):
    autodo_scan([tree], cache_dir=cache_dir)
    [files] = cache_dir.glob("*.files")
    files.unlink()
    write(tree / "src" / "new.py", "# TODO: after the loss\n")
    lists = ListWatch(monkeypatch, tree)
    result = autodo_scan([tree], cache_dir=cache_dir)
    assert set(lists.listed) == {".", "docs", "src", "bin"}
    assert "after the loss" in {f.title for f in result.findings}
    assert summary(result) == summary(autodo_scan([tree]))
    assert len(list(cache_dir.glob("*.files"))) == 1


@pytest.mark.parametrize("damage", [
    lambda listings: listings.update(sigs="not numbers"),
    lambda listings: listings.update(folders=[3, "bin/", "docs/", "src/"]),
    # well formed, but a folder without its parent: the listings do not hold together
    lambda listings: listings["folders"].__setitem__(2, "gone/nested/"),
])
def test_damaged_folder_listings_are_a_warning_and_a_full_walk(tree, cache_dir, caplog,
                                                               damage):
    # Given a cache whose folder listings were damaged, and a file added since
    autodo_scan([tree], cache_dir=cache_dir)
    [path] = cache_dir.glob("*.json")
    header, tail = path.read_bytes().split(b"\n", 1)
    data = json.loads(header)
    assert data["folders"]["folders"] == ["", "bin/", "docs/", "src/"]
    damage(data["folders"])
    path.write_bytes(json.dumps(data).encode() + b"\n" + tail)
    write(tree / "src" / "new.py", "# TODO: after the damage\n")

    # When the tree is scanned again, then it is walked afresh, with a warning
    with caplog.at_level(logging.WARNING):
        result = autodo_scan([tree], cache_dir=cache_dir)
    assert caplog.records
    assert "after the damage" in {f.title for f in result.findings}
    assert summary(result) == summary(autodo_scan([tree]))


def test_an_unchanged_walked_rescan_does_not_rewrite_the_cache(tree, cache_dir):
    autodo_scan([tree], cache_dir=cache_dir)
    stamps = {path.name: (path.stat().st_mtime_ns, path.stat().st_ino)
              for path in cache_dir.iterdir()}
    assert len(stamps) == 2  # the cache and the walk's file list
    autodo_scan([tree], cache_dir=cache_dir)
    assert {path.name: (path.stat().st_mtime_ns, path.stat().st_ino)
            for path in cache_dir.iterdir()} == stamps


def test_a_file_changed_just_before_a_scan_is_read_again(tmp_path, cache_dir, monkeypatch):
    # Given a file written within the clock tick of the scan (an edit in that same tick
    # could leave its mtime, size and ctime as they were), in an otherwise old tree
    root = tmp_path / "fresh"
    write(root / "a.py", "# TODO: one\n")
    write(root / "old.py", "# TODO: old\n")
    age(root)
    os.utime(root / "a.py")  # now
    autodo_scan([root], cache_dir=cache_dir)

    # When it is scanned again, then that file alone is read again
    watch = ReadWatch(monkeypatch, root)
    autodo_scan([root], cache_dir=cache_dir)
    assert watch.files() == {"a.py"}

    # and once its last change is older than a tick, the rescan reads nothing
    age(root)
    autodo_scan([root], cache_dir=cache_dir)
    watch.reads.clear()
    watch.forbid = True
    autodo_scan([root], cache_dir=cache_dir)
    assert watch.files() == set()
