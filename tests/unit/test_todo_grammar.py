"""The TODO.md grammar: hand-checked real files from the corpus, then one rule at a time."""

from __future__ import annotations

import pytest

from helmq.grammar.todo_md import TodoEntry, parse_todo
from tests.conftest import TESTS

CORPUS = TESTS / "corpus" / "todo-md"
CORPUS_FILES = sorted(CORPUS.glob("*.md"))


def corpus(prefix: str) -> list[TodoEntry]:
    """The entries of the corpus file whose name starts with `<prefix>_`."""
    (path,) = CORPUS.glob(f"{prefix}_*.md")
    # Decode without stripping the BOM: parse_todo must cope with it.
    return parse_todo(path.read_bytes().decode("utf-8")).entries


def by_title(entries: list[TodoEntry], title: str) -> TodoEntry:
    """The one entry with this title."""
    (entry,) = [e for e in entries if e.title == title]
    return entry


def open_titles(entries: list[TodoEntry]) -> list[str]:
    return [e.title for e in entries if not e.done]


# --- the corpus ----------------------------------------------------------------------------


def test_the_corpus_is_all_there():
    assert len(CORPUS_FILES) == 24
    assert (CORPUS / "SOURCES.tsv").read_text().count("\n") == 25


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name[:2])
def test_every_corpus_file_parses_into_clean_entries(path):
    text = path.read_bytes().decode("utf-8")
    line_count = text.count("\n") + 1

    result = parse_todo(text)

    assert result.warnings == []
    for entry in result.entries:
        assert entry.title and entry.title == " ".join(entry.title.split())
        assert 1 <= entry.line <= line_count
        assert "\r" not in entry.description and "\ufeff" not in entry.title


# (open, done) per file, counted by hand from the files.
EXPECTED_COUNTS = {
    "01": (35, 5), "02": (11, 37), "03": (8, 15), "04": (5, 10), "05": (28, 0),
    "06": (86, 0), "07": (3, 5), "08": (12, 13), "09": (2, 0), "10": (68, 12),
    "11": (47, 0), "12": (2, 2), "13": (18, 0), "14": (7, 0), "15": (23, 0),
    "16": (49, 0), "17": (27, 10), "18": (19, 9), "19": (51, 0), "20": (37, 60),
    "21": (28, 125), "22": (4, 2), "23": (18, 0), "24": (4, 0),
}


@pytest.mark.parametrize(("prefix", "counts"), sorted(EXPECTED_COUNTS.items()))
def test_corpus_open_and_done_counts(prefix, counts):
    entries = corpus(prefix)
    assert (sum(not e.done for e in entries), sum(e.done for e in entries)) == counts


def test_done_section_marks_even_unchecked_items_done():
    # Given pboy's TODO: a "Next release" task list, a "## Done" section, and a plain list
    # of "Possible future features" without any checkbox.
    entries = corpus("18")

    # Then the Done section is done, mixed checkboxes follow their box, plain bullets count.
    done_section = [e for e in entries if e.scope == ("PAPERBOY Todo", "Done")]
    assert len(done_section) == 5 and all(e.done for e in done_section)
    first = entries[0]
    assert (first.title, first.line, first.done, first.checkbox) == (
        "show version number in the UI.", 5, False, True)
    assert first.scope == ("PAPERBOY Todo", "Next release")
    circle = by_title(entries, "try out circleCI")
    assert (circle.line, circle.done, circle.checkbox) == (30, False, False)
    assert circle.scope == ("PAPERBOY Todo", "Possible future features")


def test_completed_headings_and_inline_html_comments():
    entries = corpus("02")
    # The trailing `<!-- created:… -->` comment is not part of the title.
    assert open_titles(entries)[0] == "Fix grep -c bug in todo_commands.sh"
    # "## Completed - v0.3.0 Planning & Analysis (2025-05-26)" makes its items done.
    monitor = [e for e in entries if e.title.startswith("Monitor community feedback")]
    assert [(e.line, e.done) for e in monitor] == [(8, False), (53, True)]
    assert monitor[1].scope[-1] == "Completed - v0.3.0 Planning & Analysis (2025-05-26)"


def test_strikethrough_items_are_done_and_setext_heading_is_scope():
    entries = corpus("03")
    assert all(e.scope == ("Todo",) for e in entries)
    assert by_title(entries, "createFiletree").done
    assert by_title(entries, "(generateNewApiKey)").done
    assert not by_title(entries, "startVncServer").done
    # Only part of the text is struck through, so the item stays open.
    partly = "~~download and upload progress, maybe~~ Nope, api doesn't allow this."
    assert not by_title(entries, partly).done
    assert open_titles(entries) == [
        "startVncServer", "restart button",
        "don't allow downloading a file while the same file is downloading", partly,
        "make cameras movable", "file context menu", "log out", "try to fix camera closing",
    ]


def test_struck_through_unchecked_box_is_done():
    entries = corpus("07")
    laugh = by_title(entries, "Laugh at those who laugh at me (human & software)")
    assert (laugh.line, laugh.done, laugh.checkbox) == (9, True, True)
    # A struck word inside a checked item's title is kept as written.
    assert by_title(entries, "Thread-safe (~~Stupid stack depth & jmpbuf~~)").done
    assert open_titles(entries) == [
        "x86 support (untested)", "Performance (Current: 1.216x slower than JS)",
        "My initial intention (https://github.com/cazala/coin-hive-stratum/issues/140)",
    ]
    assert entries[0].scope == ("TODO",)  # from `## TODO ##`


def test_code_blocks_hold_no_items():
    # Given a file that alternates plain lists with fenced Python code.
    entries = corpus("13")

    # Then only the bullets are items; the code in between is not.
    assert not any("class " in e.title or "import" in e.title for e in entries)
    stock = entries[0]
    assert stock.title == "**Real-time Stock Updates**"
    assert stock.scope == ("TODO", "Inventory App", "Features to Implement")
    assert stock.description == (
        "- Implement using Django Channels.\n"
        "- Ensure stock levels are updated across all users in real-time."
    )
    assert [e.line for e in entries[:3]] == [7, 32, 33]


def test_tables_block_quotes_and_pre_hold_no_items():
    entries = corpus("16")
    texts = " ".join(e.title + " " + e.description for e in entries)
    assert "current\\_stats" not in texts  # a table row
    assert "neni problem brat data ze souboru" not in texts  # a block quote
    assert "studenti.mvso.cz" not in texts  # inside <pre>
    assert not any(35 <= e.line <= 62 for e in entries)  # the fence and the table
    # The quote between nested bullets does not cut the item's description short.
    systemd = by_title(entries, "systemd -> logování stdout a stderr")
    assert systemd.description == (
        "- pouzit syslog a na zaklade velikosti rotovat?\n"
        "- informativni hlasky jdou na stdout\n"
        "- chyby jdou na stderr\n"
        "- updatovat konfiguraci syslogu"
    )
    assert systemd.scope == ("Ostatní",)
    same = [e for e in entries if e.title == "Co ma vlastne graf zobrazovat?"]
    assert [e.line for e in same] == [265, 279, 288, 297, 308]
    numbered = by_title(entries, "zálohování")
    assert (numbered.line, numbered.scope) == (359, ("TODO list",))
    assert numbered.description.splitlines()[0].startswith("- nastaveno; konfigurace")


def test_html_comment_block_and_continuation_lines():
    entries = corpus("20")
    first = entries[0]
    assert first.line == 17  # lines 1-6 are an HTML comment
    assert first.title == (
        "`allocator`: checked allocation interface, system allocator, arena allocator,")
    assert first.description == "debug allocator, tests, and benchmark harness."
    assert first.done and first.scope == ("TODO", "Current Focus")


def test_plain_lists_with_nested_notes():
    entries = corpus("04")
    assert open_titles(entries) == [
        "handle nested todo", "livereload", "Close DONEs at first", "Add cli", "Add .npmignore",
    ]
    model = by_title(entries, "Create TODO model")
    assert model.done and model.scope == ("DONE",) and not model.checkbox
    assert model.description == (
        "- title The title of the todo\n"
        "- completed True iff completed\n"
        "- subtodos The child todos"
    )


def test_numbered_plain_lists_without_headings():
    entries = corpus("14")
    assert [e.title for e in entries] == [
        "Spell check and suggests", "News Classification",
        "multiple english words (e.g. Steve Jobs)", "named entity recognition",
        "new word recognition", "Pinyin", "Simplified <-> Traditional",
    ]
    assert all(e.scope == () and not e.checkbox for e in entries)


def test_crlf_bom_and_setext_headings():
    entries = corpus("24")
    assert [e.line for e in entries] == [6, 8, 12, 17]
    first = entries[0]
    assert first.title == "現在内部エラーコードをデバッガーを用いずに参照する方法がない"
    assert first.scope == (
        "SCFF DirectShow Filter TODOリスト", "エラーハンドリングとクライアントへのエラーコード表示")
    assert first.description == "- これは「かなり」大きな問題なので出来るだけ早く対処するように"


def test_obsidian_task_metadata_leaves_the_title():
    entries = corpus("12")
    assert [(e.line, e.done) for e in entries] == [(1, True), (2, False), (3, True), (4, False)]
    assert entries[1].title == (
        "obsidian-zhongwen-block の新レンダラにおいて、"
        "スクリーンリーダーのための設定を書き足す(aria-hidden 等)")
    assert entries[2].title == "今後の放送大学の受講計画をする"
    assert entries[3].description == (
        "- https://qiita.com/uhyo/items/5dc97667ba90ce3941cd\n"
        "- https://developer.mozilla.org/ja/docs/Web/API/Element/mouseenter_event"
    )


def test_emoji_check_boxes_and_plain_notes_in_task_sections():
    entries = corpus("10")
    assert by_title(entries, "Lire le GDD.md en entier").done
    # A section with task items: its plain bullets are notes, not items.
    assert not any(e.title == "Tu connais déjà React/JS" for e in entries)
    # A section without any: its bullets are items.
    roles = by_title(entries, "Distribution des rôles")
    assert roles.scope[-1] == "À venir :" and not roles.checkbox and not roles.done


def test_nested_task_items_are_items_of_their_own():
    entries = corpus("01")
    assert [e.title for e in entries[:3]] == [
        "Fill readme", "Link to frontend repo", "Installation Instructions"]
    assert entries[0].description == ""
    assert by_title(entries, "auto-reset strict on login").scope == (
        "TODO", "Version 1.0", "Version 1.2")


def test_tab_indented_notes_and_lazy_lines():
    entries = corpus("05")
    transparency = [e for e in entries if e.title == "Transparency"]
    assert len(transparency) == 1 and transparency[0].line == 31
    assert transparency[0].description.splitlines() == [
        "* Color opacity slider",
        "* Toggle between blend and copy (overwrite) modes",
        "* Maybe equivalize any rgba(X, X, X, 0) in fill algorithm?",
        "There'd still be the possibility of 1/255th opacity pixels,",
        ("but if you're creating colors from the combination of a color picker and an "
         "opacity slider,"),
        "you might naturally introduce differing zero-opacity color values a lot.",
    ]
    hawk = corpus("15")
    rubygem = by_title(hawk, "Create a pacemaker rubygem written in C which interfaces directly")
    assert rubygem.description == "with pacemaker?"
    # An unindented paragraph after a blank line is not part of the item above it.
    assert by_title(hawk, "Better timeline control for history explorer").description == ""


def test_continuation_lines_of_task_items():
    entries = corpus("08")
    assert entries[0].title == (
        "(trống — form 3 trang đã chạy qua + Gửi OK, xem mục Đã xong)")
    assert entries[1].description.splitlines()[1] == (
        "Thêm cột verified sau khi user chạy verify.py.")


# --- tags ----------------------------------------------------------------------------------


def only(text: str) -> TodoEntry:
    """The single entry of a text."""
    (entry,) = parse_todo(text).entries
    return entry


def test_every_tag():
    entry = only("- [ ] Ship it !p1 @weekly tier:script risk:low effort:M max:2h +auto "
                 "check:ruff-fix_2\n")
    assert entry.title == "Ship it"
    assert (entry.priority, entry.recurrence) == (1, "weekly")
    assert entry.tags == {"tier": "script", "risk": "low", "effort": "M", "max_minutes": 120,
                          "auto_start": True, "check": "ruff-fix_2"}


@pytest.mark.parametrize(("tag", "field", "value"), [
    ("!p0", "priority", 0), ("!p3", "priority", 3),
    ("@daily", "recurrence", "daily"), ("@weekly", "recurrence", "weekly"),
])
def test_priority_and_recurrence_tags(tag, field, value):
    entry = only(f"- [ ] Water the plants {tag}\n")
    assert entry.title == "Water the plants" and getattr(entry, field) == value
    assert entry.tags == {}


@pytest.mark.parametrize(("tag", "key", "value"), [
    ("tier:llm_call", "tier", "llm_call"), ("tier:vario", "tier", "vario"),
    ("tier:claude_session", "tier", "claude_session"),
    ("risk:medium", "risk", "medium"), ("risk:high", "risk", "high"),
    ("effort:S", "effort", "S"), ("effort:l", "effort", "L"),
    ("max:30m", "max_minutes", 30), ("max:45", "max_minutes", 45),
    ("max:1h", "max_minutes", 60), ("+auto", "auto_start", True),
    ("check:ruff", "check", "ruff"),
])
def test_data_tags(tag, key, value):
    entry = only(f"- Tidy the imports {tag}\n")
    assert entry.title == "Tidy the imports" and entry.tags == {key: value}


@pytest.mark.parametrize("tag", [
    "tier:bogus", "risk:extreme", "effort:XL", "max:soon", "max:0", "check:Bad.Name", "!p4",
])
def test_a_bad_tag_value_is_dropped_with_a_warning(tag):
    result = parse_todo(f"# Work\n\n- [ ] Fix the build {tag} !p2\n")
    (entry,) = result.entries
    assert entry.title == "Fix the build" and entry.priority == 2 and entry.tags == {}
    (warning,) = result.warnings
    assert warning.startswith("line 3: ") and tag in warning


def test_tags_count_only_at_the_end_of_the_first_line():
    entry = only("- [ ] Use tier:script for +auto runs\n  more text !p1\n")
    assert entry.title == "Use tier:script for +auto runs" and entry.tags == {}
    assert entry.priority is None and entry.description == "more text !p1"


def test_the_last_of_two_tags_wins_with_a_warning():
    result = parse_todo("- [ ] Pick one !p1 !p2\n")
    assert result.entries[0].priority == 2
    assert result.warnings == ["line 1: tag `!p2` overrides an earlier priority tag"]


def test_an_item_that_is_only_tags_is_skipped():
    result = parse_todo("- [ ] !p1 +auto\n- [ ] real\n- [ ]\n")
    assert [e.title for e in result.entries] == ["real"]


# --- structure -----------------------------------------------------------------------------


def test_every_task_list_marker_and_box():
    text = "- [ ] a\n* [ ] b\n+ [ ] c\n1. [ ] d\n2) [ ] e\n- [x] f\n- [X] g\n- [✅] h\n- [-] i\n"
    entries = parse_todo(text).entries
    assert [(e.title, e.done) for e in entries] == [
        ("a", False), ("b", False), ("c", False), ("d", False), ("e", False),
        ("f", True), ("g", True), ("h", True), ("i", True),
    ]
    assert all(e.checkbox for e in entries)


def test_nothing_in_fences_comments_quotes_or_tables_is_an_item():
    text = """\
# Work
- [ ] before
```python
- [ ] in backticks
```
  ~~~~
- [ ] in tildes
  ```
- [ ] still in tildes: a shorter or other fence does not close it
  ~~~~~
<!-- - [ ] commented
- [ ] still commented -->
> - [ ] quoted
lazily quoted - [ ] too

| a | b |
|---|---|
| - [ ] cell | x |

col | col
--- | ---
- [ ] a list item ends the table | x
- [ ] after <!-- inline --> all
- [ ] `<!--` in a code span is text
"""
    titles = [e.title for e in parse_todo(text).entries]
    assert titles == ["before", "a list item ends the table | x", "after all",
                      "`<!--` in a code span is text"]


def test_an_unclosed_fence_warns_and_hides_the_rest():
    result = parse_todo("- [ ] one\n```\n- [ ] two\n")
    assert [e.title for e in result.entries] == ["one"]
    assert result.warnings == [
        "line 2: code fence is never closed; the rest of the file is read as code"]


def test_heading_scope_with_atx_and_setext_levels():
    text = "Project\n=======\n## Area ##\n### Part\n- [ ] deep\n## Other\n- [ ] shallow\n"
    entries = parse_todo(text).entries
    assert [e.scope for e in entries] == [
        ("Project", "Area", "Part"), ("Project", "Other")]


def test_a_paragraph_followed_by_dashes_is_a_heading_but_a_list_item_is_not():
    text = "Intro\n---\n- a\n---\n- b\n"
    entries = parse_todo(text).entries
    assert [(e.title, e.scope) for e in entries] == [("a", ("Intro",)), ("b", ("Intro",))]


@pytest.mark.parametrize(("heading", "done"), [
    ("Done", True), ("Completed tasks", True), ("FINISHED", True), ("Changelog", True),
    ("Fixed in 1.2", True), ("Released", True),
    ("Undone", False), ("Bug fixes", False), ("Doneness", False), ("To do", False),
])
def test_done_heading_words(heading, done):
    entry = only(f"## {heading}\n- [ ] something\n")
    assert entry.done is done


def test_a_done_ancestor_heading_makes_subsections_done():
    entries = parse_todo("# Released\n## v1\n- [ ] a\n# Next\n- [ ] b\n").entries
    assert [(e.title, e.done) for e in entries] == [("a", True), ("b", False)]


def test_the_section_rule_looks_only_at_the_directly_enclosing_section():
    # Given a plain list above a subsection that has a checkbox.
    text = "# Ideas\n- plain idea\n  - a note\n## Tasks\n- [ ] task\n- plain note\n"

    entries = parse_todo(text).entries

    # Then the plain list is items (its section has no checkbox); the task section's is not.
    assert [(e.title, e.checkbox, e.description) for e in entries] == [
        ("plain idea", False, "- a note"), ("task", True, "")]


def test_nested_plain_bullets_under_a_note_are_not_any_items_description():
    text = "- [ ] task\n- a note\n  - about the note\n  - [ ] nested task\n    - its note\n"
    entries = parse_todo(text).entries
    assert [(e.title, e.description) for e in entries] == [
        ("task", ""), ("nested task", "- its note")]


def test_crlf_bom_and_tabs():
    text = "\ufeff# Head\r\n- [ ] one\r\n\t- note\r\n\t\t- deeper\r\n- [ ] two\r\n"
    entries = parse_todo(text).entries
    assert [(e.title, e.line, e.scope) for e in entries] == [
        ("one", 2, ("Head",)), ("two", 5, ("Head",))]
    assert entries[0].description == "- note\n    - deeper"


def test_strikethrough_is_removed_from_the_title():
    entry = only("- ~~Drop  the cache~~ !p1\n")
    assert (entry.title, entry.done, entry.priority) == ("Drop the cache", True, 1)
